/*
 * SharkMCP's socket lister (Linux): the process sampler's cheaper way to read the kernel's TCP and
 * UDP socket tables. Reading /proc/net/tcp and tcp6 walks the whole established hash twice (once a
 * file) and formats a text row for every TIME_WAIT socket; a NETLINK_SOCK_DIAG dump answers from
 * the same hash but leaves out TIME_WAIT and CLOSE in the kernel, and the old TCPDIAG_GETSOCK
 * request lists IPv4 and IPv6 in one walk. Node cannot open a netlink socket, hence this helper.
 *
 * One long-lived child of the sampler. Each line on stdin is a request naming the tables wanted
 * ("tcp tcp6 udp udp6", any of them); the answer is one line a socket, then a line ". <cpu µs>"
 * (this process's user + system CPU so far, so the sampler can count it as its own):
 *   <t|u> <4|6> <state> <inode> <uid> <local hex>:<port> <remote hex>:<port>
 * addresses as the bytes in network order, in hex. A table it could not read gives
 * "! <table> <reason>" before the end line. It exits when stdin closes (its sampler stopped or
 * died) and, should that not happen, when its parent dies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* TCP: every state but TIME_WAIT (6) and CLOSE (7), which no process holds. UDP: all but TIME_WAIT,
 * since a UDP socket with no peer is in CLOSE. */
#define WANTED_STATES (((1u << 12) - 1) & ~((1u << 6) | (1u << 7)))
#define UDP_STATES (((1u << 12) - 1) & ~(1u << 6))
/* TCPDIAG_GETSOCK: the first request type, which dumps both families in one walk. */
#define TCPDIAG_GETSOCK_TYPE 18

static int sock_fd = -1;
static char buffer[64 * 1024];

static int open_diag(void) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  /* A dump that stalls must not hang the sampler: it gives up after a second. */
  struct timeval limit = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  return fd;
}

static void print_address(int family, const __be32 *words, unsigned port) {
  const unsigned char *bytes = (const unsigned char *)words;
  int n = family == AF_INET ? 4 : 16;
  for (int i = 0; i < n; i++) printf("%02x", bytes[i]);
  printf(":%u", port);
}

/* Sends one dump request and prints the sockets it lists; 0 when done, else an errno. */
static int dump(int type, const void *request, size_t size, char proto) {
  struct {
    struct nlmsghdr header;
    char body[sizeof(struct inet_diag_req_v2) > sizeof(struct inet_diag_req) ? sizeof(struct inet_diag_req_v2)
                                                                              : sizeof(struct inet_diag_req)];
  } message;
  memset(&message, 0, sizeof message);
  message.header.nlmsg_len = NLMSG_LENGTH(size);
  message.header.nlmsg_type = type;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = 1;
  memcpy(message.body, request, size);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(sock_fd, &message, message.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
    return errno;
  for (;;) {
    ssize_t got = recv(sock_fd, buffer, sizeof buffer, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *err = NLMSG_DATA(h);
        return err->error ? -err->error : EPROTO;
      }
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
      const struct inet_diag_msg *m = NLMSG_DATA(h);
      if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6) continue;
      printf("%c %c %02x %u %u ", proto, m->idiag_family == AF_INET ? '4' : '6', m->idiag_state, m->idiag_inode,
             m->idiag_uid);
      print_address(m->idiag_family, m->id.idiag_src, ntohs(m->id.idiag_sport));
      putchar(' ');
      print_address(m->idiag_family, m->id.idiag_dst, ntohs(m->id.idiag_dport));
      putchar('\n');
    }
  }
}

static void report(const char *table, int error) {
  if (error) printf("! %s %s\n", table, strerror(error));
}

/* One family and protocol through SOCK_DIAG_BY_FAMILY. */
static void dump_family(int family, int protocol, unsigned states, const char *table) {
  struct inet_diag_req_v2 request;
  memset(&request, 0, sizeof request);
  request.sdiag_family = family;
  request.sdiag_protocol = protocol;
  request.idiag_states = states;
  report(table, dump(SOCK_DIAG_BY_FAMILY, &request, sizeof request, protocol == IPPROTO_TCP ? 't' : 'u'));
}

/* TCP of both families in one walk of the hash, through the old request. */
static void dump_tcp_both(void) {
  struct inet_diag_req old;
  memset(&old, 0, sizeof old);
  old.idiag_states = WANTED_STATES;
  report("tcp", dump(TCPDIAG_GETSOCK_TYPE, &old, sizeof old, 't'));
}

static long long cpu_micros(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (long long)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000LL + usage.ru_utime.tv_usec +
         usage.ru_stime.tv_usec;
}

static int names(const char *line, const char *word) {
  size_t n = strlen(word);
  for (const char *p = line; (p = strstr(p, word)) != NULL; p += n) {
    int starts = p == line || p[-1] == ' ';
    int ends = p[n] == ' ' || p[n] == '\n' || p[n] == '\0';
    if (starts && ends) return 1;
  }
  return 0;
}

int main(void) {
  /* Should the sampler die without closing stdin, this ends with it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;
  sock_fd = open_diag();
  if (sock_fd < 0) {
    printf("! all %s\n.\n", strerror(errno));
    fflush(stdout);
    return 1;
  }
  char line[256];
  while (fgets(line, sizeof line, stdin) != NULL) {
    int tcp4 = names(line, "tcp"), tcp6 = names(line, "tcp6");
    if (tcp4 && tcp6) dump_tcp_both();
    else if (tcp4) dump_family(AF_INET, IPPROTO_TCP, WANTED_STATES, "tcp");
    else if (tcp6) dump_family(AF_INET6, IPPROTO_TCP, WANTED_STATES, "tcp6");
    if (names(line, "udp")) dump_family(AF_INET, IPPROTO_UDP, UDP_STATES, "udp");
    if (names(line, "udp6")) dump_family(AF_INET6, IPPROTO_UDP, UDP_STATES, "udp6");
    printf(". %lld\n", cpu_micros());
    if (fflush(stdout) != 0) return 1;
  }
  return 0;
}
