/* manymaps: a process with as many mappings as asked (argv[1], default 60000).
 *
 * One anonymous mmap of N pages, then mprotect(PROT_READ) on every other page: the
 * kernel cannot merge neighbouring pages whose protections differ, so each page is its
 * own vm_area_struct and its own /proc/PID/maps line (mm/mprotect.c, mm/vma.c).
 * N is capped by vm.max_map_count (65530 by default, mm/mmap.c).  Reports one JSON line
 * like the other samples ({"type":"ready","sample":"manymaps","pid":..,"maps":N}), then
 * sleeps until killed.  memlab's tests use it as a hostile process for the TUI. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long pages = argc > 1 ? atol(argv[1]) : 60000;
    long page = sysconf(_SC_PAGESIZE);
    if (pages < 1)
        pages = 1;
    char *base = mmap(NULL, (size_t)pages * page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (long i = 0; i < pages; i += 2)
        if (mprotect(base + i * page, page, PROT_READ) != 0) {
            perror("mprotect");
            return 1;
        }
    printf("{\"type\":\"ready\",\"sample\":\"manymaps\",\"pid\":%ld,\"maps\":%ld}\n",
           (long)getpid(), pages);
    fflush(stdout);
    for (;;)
        pause();
}
