/*
 * The pod sandbox ("pause") process of the test node (tests/cluster/node-up.sh).
 *
 * No pause image can be pulled here, so the node's pinned sandbox image is this program, linked statically
 * (gcc -static) into an otherwise empty OCI image. It does what upstream's pause does: holds the pod's
 * namespaces by sleeping in pause(), reaps any child re-parented to it (it is PID 1 when the pod shares its
 * PID namespace), and exits at once on SIGTERM or SIGINT so a sandbox stops without waiting out a grace
 * period.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return 1;
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		return 1;
	for (;;)
		pause();
}
