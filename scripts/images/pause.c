/*
 * The sandbox ("pause") container of every pod on the test node, like Kubernetes' own
 * build/pause/linux/pause.c: it holds the pod's namespaces open and does nothing else. When the
 * pod shares one PID namespace it is PID 1 there, so it reaps the orphans that get re-parented
 * to it; SIGTERM or SIGINT (the kubelet stopping the pod) end it with status 0.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo) { (void)signo; _exit(0); }

static void reap(int signo) {
  int saved = errno; /* a handler must not disturb the errno of the code it interrupted */
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
  errno = saved;
}

int main(void) {
  struct sigaction on_stop = {.sa_handler = stop};
  struct sigaction on_child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  if (sigaction(SIGINT, &on_stop, NULL) < 0 || sigaction(SIGTERM, &on_stop, NULL) < 0 ||
      sigaction(SIGCHLD, &on_child, NULL) < 0)
    return 1;
  for (;;) pause();
}
