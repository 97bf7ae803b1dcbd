/* leaderexit: a live process whose main thread has exited.
 *
 * What it shows: main() starts a second thread and calls pthread_exit().  The thread
 * group leader is then a zombie (state Z in /proc/PID/stat) and has no mm any more
 * (kernel/exit.c do_exit -> exit_mm), yet the process runs on in its other thread:
 * /proc/PID/environ, maps and exe are empty or fail, while /proc/PID/task/TID/... of the
 * live thread show the process's memory (fs/proc/base.c tid_base_stuff).  Usage:
 *
 *   leaderexit
 *
 * Output: one JSON line from the second thread once the leader has exited:
 *   {"type":"ready","sample":"leaderexit","pid":N,"tid":T}
 * stdin: "quit" or EOF exits 0.
 *
 * Built by the top-level Makefile pattern rule: gcc -O1 -g -Wall -Wextra -fPIE -pie
 * (pthread is part of libc since glibc 2.34: no -pthread needed).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static pthread_t leader;

static void *worker(void *arg)
{
    (void)arg;
    /* pthread_join on an exited (detached-by-exit) leader returns once it is gone */
    pthread_join(leader, NULL);
    printf("{\"type\":\"ready\",\"sample\":\"leaderexit\",\"pid\":%ld,\"tid\":%ld}\n",
           (long)getpid(), (long)gettid());
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin) != NULL)
        if (strncmp(line, "quit", 4) == 0)
            break;
    exit(0);
}

int main(void)
{
    pthread_t t;
    leader = pthread_self();
    if (pthread_create(&t, NULL, worker, NULL) != 0) {
        perror("leaderexit: pthread_create");
        return 1;
    }
    pthread_exit(NULL);
}
