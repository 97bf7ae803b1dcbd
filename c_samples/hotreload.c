/* hotreload: a config reader that reloads a mounted ConfigMap file, three ways.
 *
 * What it shows: kubelet updates a configMap/secret volume by writing a new
 * ..<timestamp> directory and renaming ..data_tmp over ..data (AtomicWriter); the file
 * a program opened is never modified in place.  The environment, read with getenv(), was
 * fixed at execve and never changes.  Usage:
 *
 *   hotreload [--events] FILE [ENVNAME]   watch FILE's DIRECTORY with inotify; on the
 *             CREATE/MOVED_TO of "..data" re-read FILE and print both values (the
 *             robust way, as configmap-reload does).  --events also prints every event.
 *   hotreload --watch-file FILE [ENVNAME] watch FILE itself (inotify follows the symlink
 *             to the current inode).  Prints every event it sees: never MODIFY; ATTRIB,
 *             DELETE_SELF, IGNORED when the old ts dir is removed - then the watch is
 *             gone and later updates are missed.  Reloads only on MODIFY/CLOSE_WRITE.
 *   hotreload --hold-fd FILE [ENVNAME]    open FILE once and keep the fd; on each ..data
 *             swap re-read through that fd with pread(): the OLD content (the unlinked
 *             inode lives on while the fd holds it); path_value shows a fresh open().
 *
 * Output, one JSON object per line, flushed:
 *   {"event":"start","sample":"hotreload","pid":N,"mode":"dir|watch-file|hold-fd",
 *    "file":"...","file_value":"...","env":"NAME","env_value":"...","watch":"..."}
 *   {"event":"reload","seq":N,"trigger":"..data",...same value keys...}
 *   {"event":"inotify","wd":1,"name":"..data","mask":["MOVED_TO"]} (--events/--watch-file)
 *   {"event":"watch-gone"}                                     (after IN_IGNORED)
 * A value is null when the file cannot be read / the variable is unset.  Values are
 * bytes written as-is except '"', '\\' and control bytes (escaped as \u00XX).
 * stdin: "quit" or EOF exits 0 (memlab keeps the pipe open while it runs the pod).
 *
 * Built by the top-level Makefile pattern rule: gcc -O1 -g -Wall -Wextra -fPIE -pie.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define MAX_VALUE 65536

enum mode { MODE_DIR, MODE_WATCH_FILE, MODE_HOLD_FD };
static const char *mode_names[] = {"dir", "watch-file", "hold-fd"};

static void put_json_string(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void put_value(const char *buf, ssize_t n)
{
    if (n < 0)
        fputs("null", stdout);
    else
        put_json_string(buf, (size_t)n);
}

/* Read up to MAX_VALUE bytes of PATH (a fresh open: follows ..data as it is now). */
static ssize_t read_path(const char *path, char *buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, buf, MAX_VALUE, 0);
    close(fd);
    return n;
}

static const struct { unsigned bit; const char *name; } mask_names[] = {
    {IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
    {IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
    {IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
    {IN_MOVE_SELF, "MOVE_SELF"}, {IN_UNMOUNT, "UNMOUNT"}, {IN_Q_OVERFLOW, "Q_OVERFLOW"},
    {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"},
};

static void print_event(const struct inotify_event *ev)
{
    printf("{\"event\":\"inotify\",\"wd\":%d,\"name\":", ev->wd);
    if (ev->len)
        put_json_string(ev->name, strlen(ev->name));
    else
        fputs("null", stdout);
    fputs(",\"mask\":[", stdout);
    int first = 1;
    for (size_t i = 0; i < sizeof mask_names / sizeof mask_names[0]; i++) {
        if (ev->mask & mask_names[i].bit) {
            printf("%s\"%s\"", first ? "" : ",", mask_names[i].name);
            first = 0;
        }
    }
    fputs("]}\n", stdout);
    fflush(stdout);
}

static const char *file, *env_name;
static enum mode mode = MODE_DIR;
static int held_fd = -1;
static char buf[MAX_VALUE], buf2[MAX_VALUE];

static void print_values(const char *event, long seq, const char *trigger)
{
    ssize_t n;
    if (mode == MODE_HOLD_FD)
        n = held_fd < 0 ? -1 : pread(held_fd, buf, MAX_VALUE, 0); /* the OLD inode */
    else
        n = read_path(file, buf);
    printf("{\"event\":\"%s\"", event);
    if (seq >= 0)
        printf(",\"seq\":%ld", seq);
    if (trigger)
        printf(",\"trigger\":\"%s\"", trigger);
    printf(",\"sample\":\"hotreload\",\"pid\":%d,\"mode\":\"%s\",\"file\":",
           (int)getpid(), mode_names[mode]);
    put_json_string(file, strlen(file));
    fputs(",\"file_value\":", stdout);
    put_value(buf, n);
    if (mode == MODE_HOLD_FD) {
        ssize_t m = read_path(file, buf2);
        fputs(",\"path_value\":", stdout);
        put_value(buf2, m);
    }
    fputs(",\"env\":", stdout);
    if (env_name) {
        put_json_string(env_name, strlen(env_name));
        const char *v = getenv(env_name);
        fputs(",\"env_value\":", stdout);
        put_value(v ? v : "", v ? (ssize_t)strlen(v) : -1);
    } else {
        fputs("null,\"env_value\":null", stdout);
    }
    fputs("}\n", stdout);
    fflush(stdout);
}

static void usage(void)
{
    fputs("usage: hotreload [--events | --watch-file | --hold-fd] FILE [ENVNAME]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    int events = 0, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--events") == 0)
            events = 1;
        else if (strcmp(argv[i], "--watch-file") == 0)
            mode = MODE_WATCH_FILE;
        else if (strcmp(argv[i], "--hold-fd") == 0)
            mode = MODE_HOLD_FD;
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else
            usage();
    }
    if (i >= argc || argc - i > 2)
        usage();
    file = argv[i];
    env_name = i + 1 < argc ? argv[i + 1] : NULL;

    /* The directory to watch: FILE's parent (the volume dir, or a link to it). */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';

    int in = inotify_init1(IN_CLOEXEC);
    if (in < 0) {
        perror("inotify_init1");
        return 1;
    }
    const char *watched;
    int wd;
    if (mode == MODE_WATCH_FILE) {
        /* inotify_add_watch follows the user-visible symlink to today's inode. */
        watched = file;
        wd = inotify_add_watch(in, file, IN_ALL_EVENTS);
    } else {
        watched = dir;
        wd = inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                            IN_DELETE | IN_ATTRIB | IN_DELETE_SELF);
    }
    if (wd < 0) {
        fprintf(stderr, "hotreload: inotify_add_watch %s: %s\n", watched, strerror(errno));
        return 1;
    }
    if (mode == MODE_HOLD_FD)
        held_fd = open(file, O_RDONLY | O_CLOEXEC);

    /* the start line (launch(hold="ready") reads it as the self-report) */
    print_values("start", -1, NULL);

    long seq = 0;
    char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    char line[256];
    size_t line_len = 0;
    for (;;) {
        struct pollfd p[2] = {{in, POLLIN, 0}, {0, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        if (p[1].revents) {
            ssize_t n = read(0, line + line_len, sizeof line - 1 - line_len);
            if (n <= 0)
                return 0; /* EOF: memlab went away */
            line_len += (size_t)n;
            line[line_len] = '\0';
            if (strstr(line, "quit"))
                return 0;
            if (strchr(line, '\n') || line_len >= sizeof line - 1)
                line_len = 0;
        }
        if (!p[0].revents)
            continue;
        ssize_t len = read(in, evbuf, sizeof evbuf);
        if (len <= 0)
            continue;
        for (char *ptr = evbuf; ptr < evbuf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)ptr;
            ptr += sizeof *ev + ev->len;
            if (events || mode == MODE_WATCH_FILE)
                print_event(ev);
            if (mode == MODE_WATCH_FILE) {
                if (ev->mask & IN_IGNORED) {
                    puts("{\"event\":\"watch-gone\"}");
                    fflush(stdout);
                } else if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE)) {
                    print_values("reload", ++seq, "MODIFY");
                }
                continue;
            }
            /* the robust trigger: ..data (re)created by the rename of ..data_tmp */
            if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len &&
                strcmp(ev->name, "..data") == 0)
                print_values("reload", ++seq, "..data");
        }
    }
}
