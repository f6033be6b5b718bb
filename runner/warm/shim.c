/* The `python3` of a job's PATH when the runner is pre-warmed (runner/warm/).
 *
 * It hands its argv, working folder, environment and file descriptors 0, 1 and 2 to the warm
 * server of its worker over a Unix socket (SCM_RIGHTS), waits for the forked process to end,
 * and ends the same way (exit status, or the same signal). The server may refuse (an
 * invocation it does not cover, an environment a pre-imported module would have read
 * differently): then, as when no server answers, it becomes the real interpreter (execv), so
 * a job never depends on the warm server being there.
 *
 * Layout, found from /proc/self/exe so that nothing needs to be in the job's environment:
 *   <warm>/bin/python3   this program (python, python3 are links to it)
 *   <warm>/server.sock   the server's socket
 *   <warm>/interpreter   a link to the real interpreter
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char warm[PATH_MAX];

static void become_real(char **argv) {
    /* argv[0] becomes the interpreter's own path (the venv's python3, which <warm>/interpreter
     * names): Python finds its prefix from it, as it does when started from PATH. */
    char link[PATH_MAX + 16], real[PATH_MAX];
    snprintf(link, sizeof link, "%s/interpreter", warm);
    ssize_t n = readlink(link, real, sizeof real - 1);
    if (n <= 0) {
        perror("python3 (warm shim): no interpreter link");
        _exit(127);
    }
    real[n] = 0;
    argv[0] = real;
    execv(real, argv);
    perror("python3 (warm shim): cannot exec the real interpreter");
    _exit(127);
}

static int append(char **buf, size_t *len, size_t *cap, const char *text) {
    size_t n = strlen(text) + 1;
    if (*len + n > *cap) {
        size_t grown = (*cap + n) * 2;
        char *more = realloc(*buf, grown);
        if (!more) return -1;
        *buf = more, *cap = grown;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    return 0;
}

static int read_full(int fd, void *into, size_t n) {
    char *p = into;
    while (n) {
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p += got, n -= (size_t)got;
    }
    return 0;
}

int main(int argc, char **argv) {
    (void)argc;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 127;
    self[n] = 0;
    char *slash = strrchr(self, '/');          /* <warm>/bin/python3 → <warm> */
    if (!slash) return 127;
    *slash = 0;
    slash = strrchr(self, '/');
    if (!slash) return 127;
    *slash = 0;
    snprintf(warm, sizeof warm, "%s", self);

    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (snprintf(address.sun_path, sizeof address.sun_path, "%s/server.sock", warm)
            >= (int)sizeof address.sun_path
        || sock < 0 || connect(sock, (struct sockaddr *)&address, sizeof address) != 0)
        become_real(argv);

    /* The request: "argc\0" argv… "cwd\0" environ…, NUL-separated, after its length. */
    char *buf = NULL, number[32], cwd[PATH_MAX];
    size_t len = 0, cap = 0;
    int count = 0;
    while (argv[count]) count++;
    snprintf(number, sizeof number, "%d", count);
    if (!getcwd(cwd, sizeof cwd)) become_real(argv);
    int failed = append(&buf, &len, &cap, number);
    for (int i = 0; i < count; i++) failed |= append(&buf, &len, &cap, argv[i]);
    failed |= append(&buf, &len, &cap, cwd);
    for (char **e = environ; *e; e++) failed |= append(&buf, &len, &cap, *e);
    if (failed) become_real(argv);

    uint32_t size = (uint32_t)len;
    int fds[3] = {0, 1, 2};
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec head = {.iov_base = &size, .iov_len = sizeof size};
    struct msghdr message = {.msg_iov = &head, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *rights = CMSG_FIRSTHDR(&message);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(rights), fds, sizeof fds);
    if (sendmsg(sock, &message, 0) != (ssize_t)sizeof size) become_real(argv);
    for (size_t sent = 0; sent < len;) {
        ssize_t wrote = write(sock, buf + sent, len - sent);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote <= 0) become_real(argv);
        sent += (size_t)wrote;
    }

    /* The answer: 0 = refused (become the real interpreter), 1 = started; then the wait status. */
    int32_t answer, status;
    if (read_full(sock, &answer, sizeof answer) != 0 || answer == 0) become_real(argv);
    if (read_full(sock, &status, sizeof status) != 0) {
        fprintf(stderr, "python3 (warm shim): the warm server went away\n");
        return 70;  /* EX_SOFTWARE */
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        signal(sig, SIG_DFL);
        raise(sig);
        return 128 + sig;
    }
    return 70;
}
