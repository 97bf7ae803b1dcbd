/* sleeper: a long-running process that reports where its own pieces live in memory.
 *
 * What it shows: on start it prints ONE line of JSON (the "self-report") with the
 * addresses of main (text), a rodata string, an initialised global (.data), a bss
 * global, the linker symbols etext/edata/end, a malloc(16) result, sbrk(0), a local
 * variable (stack), argv, argv[0], environ, environ[0], getauxval(AT_EXECFN /
 * AT_RANDOM / AT_PLATFORM), and the address of every environment string (names only,
 * never values).  memlab compares each of these with what it derives from /proc.
 * It then waits for commands on stdin, one per line, and answers each with one JSON line:
 *
 *   setenv K V   setenv(K, V, 1): libc's environ changes, /proc/PID/environ does not
 *   unsetenv K   unsetenv(K): the original K=V string stays in the env block
 *   scrub K      overwrite the bytes of getenv(K) in place with 'X' (visible in /proc)
 *   copy K       strdup(getenv(K)) onto the heap: the value now lives twice
 *   malloc N     malloc(N) (touched, so it is resident); answers the address;
 *                N is at most MAX_MALLOC (256 MiB): a command is anyone's text
 *   nodump       prctl(PR_SET_DUMPABLE, 0): hides environ/maps/mem from our own uid
 *   getenv K     the value and where its string lives
 *   environ      the current environ pointer array and each entry's pointer
 *   report       the self-report again (environ/env/sbrk as they are now)
 *   reserve N    malloc(N) WITHOUT touching it (N at most MAX_RESERVE, 1 GiB): answers
 *                the address and the whole pages inside the block ("pages_start",
 *                "pages"): malloc reserves, nothing is resident yet
 *   touch ADDR N write one byte in each of N pages from the first page boundary at or
 *                after ADDR, which must lie in a block `reserve` returned (the pages
 *                must fit in it): touching commits; answers the first page touched
 *   threads N    start N threads (at most MAX_THREADS, 64) that block in pause();
 *                answers their tids and the address of a local of each (on its stack)
 *   quit         exit 0              (EOF on stdin exits too)
 *
 * Unknown commands answer {"error": "..."}.  Lines up to 1 MiB; longer lines are
 * discarded and answered with an error.
 *
 * JSON strings are byte strings written as Latin-1: bytes >= 0x80 appear as \u00XX,
 * so a reader recovers the exact bytes with s.encode("latin-1").
 *
 * Built by the top-level Makefile four ways (the ELF loading lessons compare them):
 *   sleeper            gcc -O1 -g -Wall -Wextra -fPIE -pie
 *   sleeper-nopie      ... -fno-pie -no-pie
 *   sleeper-static     ... -fno-pie -static
 *   sleeper-static-pie ... -fPIE -static-pie
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;
/* Linker-defined symbols (ld(1)): first address past text, initialised data, bss. */
extern char etext, edata, end;

static const char rodata_string[] = "memlab: I live in .rodata";
int initialised_global = 42; /* .data */
int bss_global;              /* .bss  */

#define MAX_LINE ((size_t)1 << 20)
/* malloc N touches all N bytes: a bigger N from a lesson or the TUI would take the
 * machine's memory, not show where malloc puts a block */
#define MAX_MALLOC ((unsigned long long)256 << 20)

/* State kept from start-up so `report` can repeat it. */
static uintptr_t first_malloc;
static char **start_argv;
static int start_argc;
static uintptr_t main_local;

int main(int argc, char **argv);

/* ------------------------------------------------------------------ JSON output */
static void put_addr(uintptr_t p)
{
    if (p == 0)
        fputs("null", stdout);
    else
        printf("\"0x%lx\"", (unsigned long)p);
}

/* `,"key":"0x..."` (no leading comma when first). */
static void put_key_addr(const char *key, uintptr_t p, int first)
{
    printf("%s\"%s\":", first ? "" : ",", key);
    put_addr(p);
}

#define A(p) ((uintptr_t)(p))

/* Writes bytes [s, s+n) as a JSON string; non-ASCII bytes as \u00XX (Latin-1). */
static void put_nstr(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void put_str(const char *s)
{
    if (s == NULL)
        fputs("null", stdout);
    else
        put_nstr(s, strlen(s));
}

static void begin_answer(const char *cmd)
{
    fputs("{\"cmd\":", stdout);
    put_str(cmd);
}

static void end_line(void)
{
    fputs("}\n", stdout);
    fflush(stdout);
}

static void answer_error(const char *cmd, const char *msg)
{
    fputs("{\"error\":", stdout);
    put_str(msg);
    if (cmd != NULL) {
        fputs(",\"cmd\":", stdout);
        put_str(cmd);
    }
    end_line();
}

/* The name part of a "NAME=value" string (all of it when there is no '='). */
static void put_env_name(const char *entry)
{
    const char *eq = strchr(entry, '=');
    put_nstr(entry, eq ? (size_t)(eq - entry) : strlen(entry));
}

/* ------------------------------------------------------------------ self-report */
static void self_report(const char *type)
{
    printf("{\"type\":\"%s\",\"sample\":\"sleeper\",\"pid\":%ld,\"argc\":%d", type,
           (long)getpid(), start_argc);
#ifdef __PIE__
    fputs(",\"pie\":true", stdout);
#else
    fputs(",\"pie\":false", stdout);
#endif
    /* No program interpreter -> AT_BASE is 0: a static binary. */
    printf(",\"static\":%s", getauxval(AT_BASE) == 0 ? "true" : "false");
    put_key_addr("main", A(main), 0);
    put_key_addr("rodata", A(rodata_string), 0);
    put_key_addr("data", A(&initialised_global), 0);
    put_key_addr("bss", A(&bss_global), 0);
    put_key_addr("etext", A(&etext), 0);
    put_key_addr("edata", A(&edata), 0);
    put_key_addr("end", A(&end), 0);
    put_key_addr("malloc", first_malloc, 0);
    put_key_addr("sbrk", A(sbrk(0)), 0);
    put_key_addr("local", main_local, 0);
    put_key_addr("argv", A(start_argv), 0);
    put_key_addr("argv0", A(start_argv[0]), 0);
    put_key_addr("environ", A(environ), 0);
    put_key_addr("environ0", A(environ ? environ[0] : NULL), 0);
    put_key_addr("at_execfn", getauxval(AT_EXECFN), 0);
    put_key_addr("at_random", getauxval(AT_RANDOM), 0);
    put_key_addr("at_platform", getauxval(AT_PLATFORM), 0);
    fputs(",\"env\":[", stdout);
    for (size_t i = 0; environ && environ[i]; i++) {
        fputs(i ? ",{" : "{", stdout);
        put_key_addr("address", A(environ[i]), 1);
        fputs(",\"name\":", stdout);
        put_env_name(environ[i]);
        fputs("}", stdout);
    }
    fputs("]", stdout);
    end_line();
}

/* ------------------------------------------------------------------ commands */
/* The rest of the line after the command word and one space ("" when absent). */
static char *split_arg(char *line)
{
    char *sp = strchr(line, ' ');
    if (sp == NULL)
        return line + strlen(line);
    *sp = '\0';
    return sp + 1;
}

static int need_name(const char *cmd, const char *name)
{
    if (*name == '\0' || strchr(name, '=') != NULL) {
        answer_error(cmd, "expected a variable NAME (non-empty, no '=')");
        return 0;
    }
    return 1;
}

/* Answers `"name":..,"address":<value>,"entry_address":<NAME=>` for getenv(name). */
static void put_getenv(const char *name, const char *value)
{
    fputs(",\"name\":", stdout);
    put_str(name);
    put_key_addr("address", A(value), 0);
    put_key_addr("entry_address", value ? A(value) - strlen(name) - 1 : 0, 0);
}

static void cmd_setenv(char *arg)
{
    char *value = split_arg(arg);
    if (!need_name("setenv", arg))
        return;
    if (setenv(arg, value, 1) != 0) {
        answer_error("setenv", strerror(errno));
        return;
    }
    begin_answer("setenv");
    put_getenv(arg, getenv(arg));
    put_key_addr("environ", A(environ), 0);
    end_line();
}

static void cmd_unsetenv(char *arg)
{
    if (!need_name("unsetenv", arg))
        return;
    const char *before = getenv(arg);
    if (unsetenv(arg) != 0) {
        answer_error("unsetenv", strerror(errno));
        return;
    }
    begin_answer("unsetenv");
    fputs(",\"name\":", stdout);
    put_str(arg);
    printf(",\"was_set\":%s", before ? "true" : "false");
    put_key_addr("environ", A(environ), 0);
    end_line();
}

static void cmd_scrub(char *arg)
{
    if (!need_name("scrub", arg))
        return;
    char *value = getenv(arg);
    if (value == NULL) {
        answer_error("scrub", "variable not set");
        return;
    }
    /* In place: when environ still points into the original block at the top of the
     * stack, this changes what /proc/PID/environ shows
     * (docs/kernel-facts.md#environ-is-the-initial-block). */
    size_t n = strlen(value);
    memset(value, 'X', n);
    begin_answer("scrub");
    put_getenv(arg, value);
    printf(",\"length\":%zu", n);
    end_line();
}

static void cmd_copy(char *arg)
{
    if (!need_name("copy", arg))
        return;
    const char *value = getenv(arg);
    if (value == NULL) {
        answer_error("copy", "variable not set");
        return;
    }
    char *dup = strdup(value); /* kept for the life of the process on purpose */
    if (dup == NULL) {
        answer_error("copy", strerror(errno));
        return;
    }
    begin_answer("copy");
    fputs(",\"name\":", stdout);
    put_str(arg);
    put_key_addr("address", A(dup), 0);
    put_key_addr("source", A(value), 0);
    printf(",\"length\":%zu", strlen(dup));
    end_line();
}

static void cmd_malloc(char *arg)
{
    char *endp;
    errno = 0;
    unsigned long long n = strtoull(arg, &endp, 0);
    if (*arg == '\0' || *arg == '-' || *endp != '\0' || errno != 0 || n > SIZE_MAX) {
        answer_error("malloc", "expected a size N (decimal or 0x hex)");
        return;
    }
    if (n > MAX_MALLOC) {
        answer_error("malloc", "N is at most 268435456 (256 MiB)");
        return;
    }
    void *p = malloc((size_t)n);
    if (p == NULL && n != 0) {
        answer_error("malloc", strerror(errno));
        return;
    }
    if (p != NULL)
        memset(p, 0xa5, (size_t)n); /* touch it: resident, and visible in /proc/PID/mem */
    begin_answer("malloc");
    printf(",\"size\":%llu", n);
    put_key_addr("address", A(p), 0);
    put_key_addr("sbrk", A(sbrk(0)), 0);
    end_line();
}

static void cmd_nodump(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        answer_error("nodump", strerror(errno));
        return;
    }
    begin_answer("nodump");
    printf(",\"dumpable\":%d", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
    end_line();
}

static void cmd_getenv(char *arg)
{
    if (!need_name("getenv", arg))
        return;
    const char *value = getenv(arg);
    begin_answer("getenv");
    put_getenv(arg, value);
    fputs(",\"value\":", stdout);
    put_str(value);
    end_line();
}

static void cmd_environ(void)
{
    begin_answer("environ");
    put_key_addr("environ", A(environ), 0);
    fputs(",\"entries\":[", stdout);
    for (size_t i = 0; environ && environ[i]; i++) {
        fputs(i ? ",{" : "{", stdout);
        put_key_addr("slot", A(&environ[i]), 1);
        put_key_addr("address", A(environ[i]), 0);
        fputs(",\"name\":", stdout);
        put_env_name(environ[i]);
        fputs("}", stdout);
    }
    fputs("]", stdout);
    end_line();
}

/* ------------------------------------------- reserve / touch / threads (resident) */
#define MAX_RESERVE ((unsigned long long)1 << 30)
#define MAX_RESERVED 64
#define MAX_THREADS 64

static struct { uintptr_t start, end; } reserved[MAX_RESERVED];
static int n_reserved;

static int parse_count(const char *cmd, const char *arg, unsigned long long max,
                       unsigned long long *out)
{
    char *endp;
    errno = 0;
    unsigned long long n = strtoull(arg, &endp, 0);
    if (*arg == '\0' || *arg == '-' || *endp != '\0' || errno != 0 || n > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected a count N (decimal or 0x hex) up to %llu", max);
        answer_error(cmd, msg);
        return 0;
    }
    *out = n;
    return 1;
}

static void cmd_reserve(char *arg)
{
    unsigned long long n;
    if (!parse_count("reserve", arg, MAX_RESERVE, &n))
        return;
    if (n_reserved == MAX_RESERVED) {
        answer_error("reserve", "at most 64 reserved blocks");
        return;
    }
    void *p = malloc(n ? (size_t)n : 1); /* not touched: only malloc's header is */
    if (p == NULL) {
        answer_error("reserve", strerror(errno));
        return;
    }
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = A(p), end = start + (uintptr_t)n;
    reserved[n_reserved].start = start;
    reserved[n_reserved].end = end;
    n_reserved++;
    uintptr_t first = (start + page - 1) & ~(page - 1), last = end & ~(page - 1);
    begin_answer("reserve");
    printf(",\"size\":%llu", n);
    put_key_addr("address", start, 0);
    put_key_addr("pages_start", first, 0);
    printf(",\"pages\":%lu", (unsigned long)(last > first ? (last - first) / page : 0));
    put_key_addr("sbrk", A(sbrk(0)), 0);
    end_line();
}

static void cmd_touch(char *arg)
{
    char *count = split_arg(arg);
    char *endp;
    errno = 0;
    unsigned long long addr = strtoull(arg, &endp, 16);
    if (*arg == '\0' || *endp != '\0' || errno != 0) {
        answer_error("touch", "expected ADDR (hex) and a page count N");
        return;
    }
    unsigned long long n;
    if (!parse_count("touch", count, MAX_RESERVE, &n))
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = ((uintptr_t)addr + page - 1) & ~(page - 1);
    for (int i = 0; i < n_reserved; i++) {
        if (addr < reserved[i].start || addr >= reserved[i].end)
            continue;
        if (first > reserved[i].end || n > (reserved[i].end - first) / page) {
            answer_error("touch", "N pages from ADDR do not fit in its reserved block");
            return;
        }
        for (unsigned long long k = 0; k < n; k++)
            *(volatile char *)(first + k * page) = 1;
        begin_answer("touch");
        put_key_addr("address", first, 0);
        printf(",\"pages\":%llu,\"page_size\":%lu", n, (unsigned long)page);
        end_line();
        return;
    }
    answer_error("touch", "ADDR is in no block `reserve` returned");
}

static pthread_mutex_t thread_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t thread_ready = PTHREAD_COND_INITIALIZER;
static int threads_started;
static long thread_tids[MAX_THREADS];
static uintptr_t thread_locals[MAX_THREADS];

static void *blocked_thread(void *arg)
{
    int slot = (int)(intptr_t)arg;
    volatile int local = slot;
    pthread_mutex_lock(&thread_lock);
    thread_tids[slot] = syscall(SYS_gettid);
    thread_locals[slot] = A(&local);
    threads_started++;
    pthread_cond_broadcast(&thread_ready);
    pthread_mutex_unlock(&thread_lock);
    for (;;)
        pause(); /* blocked in a syscall: /proc/PID/task/TID/syscall shows its sp */
    return NULL;
}

static void cmd_threads(char *arg)
{
    unsigned long long n;
    if (!parse_count("threads", arg, MAX_THREADS, &n))
        return;
    pthread_mutex_lock(&thread_lock);
    int from = threads_started;
    pthread_mutex_unlock(&thread_lock);
    if (from + n > MAX_THREADS) {
        answer_error("threads", "at most 64 threads in all");
        return;
    }
    int made = 0;
    for (unsigned long long i = 0; i < n; i++) {
        pthread_t t;
        int err = pthread_create(&t, NULL, blocked_thread, (void *)(intptr_t)(from + i));
        if (err != 0) {
            answer_error("threads", strerror(err));
            break;
        }
        pthread_detach(t);
        made++;
    }
    pthread_mutex_lock(&thread_lock);
    while (threads_started < from + made)
        pthread_cond_wait(&thread_ready, &thread_lock);
    pthread_mutex_unlock(&thread_lock);
    if (made < (int)n)
        return;
    begin_answer("threads");
    fputs(",\"tids\":[", stdout);
    for (int i = from; i < from + made; i++)
        printf("%s%ld", i > from ? "," : "", thread_tids[i]);
    fputs("],\"locals\":[", stdout);
    for (int i = from; i < from + made; i++) {
        if (i > from)
            putchar(',');
        put_addr(thread_locals[i]);
    }
    fputs("]", stdout);
    end_line();
}

/* Returns 0 to keep going, 1 to quit. */
static int dispatch(char *line)
{
    char *arg = split_arg(line);
    if (strcmp(line, "setenv") == 0)
        cmd_setenv(arg);
    else if (strcmp(line, "unsetenv") == 0)
        cmd_unsetenv(arg);
    else if (strcmp(line, "scrub") == 0)
        cmd_scrub(arg);
    else if (strcmp(line, "copy") == 0)
        cmd_copy(arg);
    else if (strcmp(line, "malloc") == 0)
        cmd_malloc(arg);
    else if (strcmp(line, "nodump") == 0)
        cmd_nodump();
    else if (strcmp(line, "getenv") == 0)
        cmd_getenv(arg);
    else if (strcmp(line, "environ") == 0)
        cmd_environ();
    else if (strcmp(line, "report") == 0)
        self_report("report");
    else if (strcmp(line, "reserve") == 0)
        cmd_reserve(arg);
    else if (strcmp(line, "touch") == 0)
        cmd_touch(arg);
    else if (strcmp(line, "threads") == 0)
        cmd_threads(arg);
    else if (strcmp(line, "quit") == 0) {
        begin_answer("quit");
        end_line();
        return 1;
    } else {
        answer_error(line, "unknown command");
    }
    return 0;
}

/* Reads one line (without '\n') into *buf, growing it up to MAX_LINE bytes.
 * Returns the length, -1 at EOF with nothing read, -2 for a line longer than
 * MAX_LINE (the rest of it is consumed and dropped). */
static long read_line(char **buf, size_t *cap)
{
    size_t len = 0;
    int c, too_long = 0;
    while ((c = getchar()) != EOF && c != '\n') {
        if (too_long)
            continue;
        if (len >= MAX_LINE) {
            too_long = 1;
            continue;
        }
        if (len + 1 >= *cap) {
            size_t ncap = *cap ? *cap * 2 : 256;
            if (ncap > MAX_LINE + 1)
                ncap = MAX_LINE + 1;
            char *nbuf = realloc(*buf, ncap);
            if (nbuf == NULL) {
                too_long = 1;
                continue;
            }
            *buf = nbuf;
            *cap = ncap;
        }
        (*buf)[len++] = (char)c;
    }
    if (c == EOF && len == 0 && !too_long)
        return -1;
    if (too_long)
        return -2;
    (*buf)[len] = '\0';
    if (len && (*buf)[len - 1] == '\r')
        (*buf)[--len] = '\0';
    return (long)len;
}

int main(int argc, char **argv)
{
    int local = 7;
    main_local = A(&local);
    start_argc = argc;
    start_argv = argv;
    first_malloc = A(malloc(16));

    self_report("self-report");

    char *buf = NULL;
    size_t cap = 0;
    for (;;) {
        long n = read_line(&buf, &cap);
        if (n == -1)
            break;
        if (n == -2) {
            answer_error(NULL, "line too long (max 1 MiB)");
            continue;
        }
        if (dispatch(buf))
            break;
    }
    free(buf);
    /* keep `local` alive in a register-free slot so &local stays meaningful */
    return local == 7 ? 0 : 1;
}
