/* execloop: a process that keeps calling execve, for reading a moving target.
 *
 * What it shows: the pid stays, everything else changes at execve -- the mm (maps,
 * environ, auxv, memory), the executable, the load bias, the stack.  A reader that
 * opens /proc/PID/... before an exec and reads after it sees the old image, or nothing
 * (fs/proc/base.c proc_mem_open pins the mm at open; mem_rw and environ_read answer 0
 * once that mm's users are gone), and mixing files read before and after mixes two
 * images.  Usage:
 *
 *   execloop USEC PROGRAM [PROGRAM...]
 *
 * USEC > 0: sleep USEC microseconds, then execve the first PROGRAM with the list
 * rotated (PROGRAM... must be execloop builds: execloop, execloop-static), forever.
 * USEC = 0: wait for a line on stdin: "exec" execs the next image, "quit" or EOF exits.
 * Every image sets EXECLOOP_GEN=<generation> and EXECLOOP_PAD=<0..64 x's> in the
 * environment it passes on, so the env block moves even without ASLR.
 *
 * Output: one JSON line when an image starts -- every image with USEC = 0, only the
 * first one (generation 0) otherwise, so nobody has to drain the pipe:
 *   {"type":"ready","sample":"execloop","pid":N,"gen":G,"pie":B,"static":B}
 *
 * Built by the top-level Makefile twice: execloop (-fPIE -pie, dynamic) and
 * execloop-static (-fno-pie -static), so alternating changes the ELF type too.
 * Generation 0 sets PR_SET_PDEATHSIG (kept across a non-set-uid execve), so a loop
 * whose parent died does not run on.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_PROGRAMS 8
#define MAX_ENV 256

static void report(long gen)
{
    printf("{\"type\":\"ready\",\"sample\":\"execloop\",\"pid\":%ld,\"gen\":%ld",
           (long)getpid(), gen);
#ifdef __PIE__
    fputs(",\"pie\":true", stdout);
#else
    fputs(",\"pie\":false", stdout);
#endif
    printf(",\"static\":%s}\n", getauxval(AT_BASE) == 0 ? "true" : "false");
    fflush(stdout);
}

/* Waits for "exec" on stdin: 1 to exec, 0 to exit. */
static int wait_for_command(void)
{
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL) {
        if (strncmp(line, "exec", 4) == 0)
            return 1;
        if (strncmp(line, "quit", 4) == 0)
            return 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc - 2 > MAX_PROGRAMS) {
        fprintf(stderr, "usage: execloop USEC PROGRAM [PROGRAM...] (at most %d)\n",
                MAX_PROGRAMS);
        return 2;
    }
    long usec = strtol(argv[1], NULL, 10);
    const char *gen_text = getenv("EXECLOOP_GEN");
    long gen = gen_text ? strtol(gen_text, NULL, 10) : 0;
    if (gen == 0)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (usec <= 0 || gen == 0)
        report(gen);

    if (usec > 0) {
        struct timespec ts = {usec / 1000000, (usec % 1000000) * 1000};
        nanosleep(&ts, NULL);
    } else if (!wait_for_command()) {
        return 0;
    }

    /* argv of the next image: PROGRAM[0] USEC PROGRAM[1..] PROGRAM[0] */
    int n = argc - 2;
    char *next[MAX_PROGRAMS + 3];
    next[0] = argv[2];
    next[1] = argv[1];
    for (int i = 1; i < n; i++)
        next[1 + i] = argv[2 + i];
    next[1 + n] = argv[2];
    next[2 + n] = NULL;

    /* environment: ours without EXECLOOP_*, then the next generation's */
    static char gen_entry[64], pad_entry[16 + 64 + 1];
    char *env[MAX_ENV + 3];
    int k = 0;
    for (char **e = environ; *e != NULL && k < MAX_ENV; e++)
        if (strncmp(*e, "EXECLOOP_", 9) != 0)
            env[k++] = *e;
    snprintf(gen_entry, sizeof gen_entry, "EXECLOOP_GEN=%ld", gen + 1);
    int pad = (int)((gen + 1) % 5) * 16;
    memcpy(pad_entry, "EXECLOOP_PAD=", 13);
    memset(pad_entry + 13, 'x', (size_t)pad);
    pad_entry[13 + pad] = '\0';
    env[k++] = gen_entry;
    env[k++] = pad_entry;
    env[k] = NULL;

    execve(next[0], next, env);
    perror("execloop: execve");
    return 1;
}
