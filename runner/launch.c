/* The runner's launcher: what a preexec_fn did in a fork of the worker, done after a vfork.
 *
 *   kim-launch PARENT CGROUP_PROCS AS CORE FSIZE NOFILE NPROC -- PROGRAM [ARG...]
 *
 * Sets the parent-death signal (SIGKILL) and exits 1 if PARENT is no longer its parent (the
 * worker died before the signal was set), joins the pids cgroup whose cgroup.procs file is
 * CGROUP_PROCS ("-": none), sets each resource limit that is not -1 (soft and hard), then
 * becomes PROGRAM (a path). Python's subprocess can vfork only without a preexec_fn: forking
 * the worker (about 100 MB of page tables) and running Python in the child cost several
 * milliseconds a run; this costs one exec. A failure is said on stderr as "kim-launch: ..." with status 126.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static void fail(const char *what) {
    fprintf(stderr, "kim-launch: %s: %s\n", what, strerror(errno));
    _exit(126);
}

int main(int argc, char **argv) {
    static const int which[] = {RLIMIT_AS, RLIMIT_CORE, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_NPROC};
    if (argc < 10 || strcmp(argv[8], "--") != 0) {
        fprintf(stderr, "kim-launch: usage: kim-launch PARENT CGROUP_PROCS AS CORE FSIZE NOFILE "
                        "NPROC -- PROGRAM [ARG...]\n");
        return 126;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
        fail("prctl(PR_SET_PDEATHSIG)");
    if (getppid() != (pid_t)strtol(argv[1], NULL, 10))
        _exit(1);
    if (strcmp(argv[2], "-") != 0) {
        int fd = open(argv[2], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            fail(argv[2]);
        close(fd);
    }
    for (int i = 0; i < 5; i++) {
        char *end;
        errno = 0;
        long long value = strtoll(argv[3 + i], &end, 10);
        if (errno || *end || end == argv[3 + i]) {
            errno = EINVAL;
            fail(argv[3 + i]);
        }
        if (value < 0)
            continue;
        struct rlimit limit = {(rlim_t)value, (rlim_t)value};
        if (setrlimit(which[i], &limit) != 0)
            fail("setrlimit");
    }
    /* execv, not execvp: PROGRAM is a path, and execvp would run a file the kernel refuses
     * (ENOEXEC: no #! line, a broken binary) through /bin/sh instead of failing. */
    execv(argv[9], argv + 9);
    fail(argv[9]);
}
