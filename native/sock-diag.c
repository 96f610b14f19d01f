/*
 * SharkMCP's socket watcher (Linux): the process sampler's whole loop, in a helper of its own, so
 * that Node only hears what changed. A loop in Node cost 5-7% of a core at 140 new sockets a second
 * (a timer every 25 ms, reads of /proc through libuv, strings for every link) and fell behind when
 * the machine was busy, since a late timer let short connections open and close unseen. Here:
 *
 * - every POLL_MS the kernel's socket counters (/proc/net/sockstat and sockstat6, read with pread
 *   on descriptors kept open); when they moved, a NETLINK_SOCK_DIAG dump of the tables that moved
 *   (TCP v4 and v6 in one walk of the connection hash through the old TCPDIAG_GETSOCK request,
 *   UDP v4 and v6 apart; TIME_WAIT and CLOSE left out by the kernel), spaced by what a dump costs
 *   (WALK_BUDGET of a core) but never more than MAX_WALK_GAP_MS apart, and every table at least
 *   every REFRESH_MS, so closes are noticed;
 * - the dump compared with the sockets known (a hash set by inode, bounded): new ones wait for an
 *   owner, gone ones are told closed;
 * - a new socket's owner found in /proc/<pid>/fd, in this order: the process listening on its port
 *   (a connection a server accepted), processes that started lately (a new `curl`), processes that
 *   held sockets lately (latest first), processes started in the last YOUNG_MS (a program slow to
 *   start on a busy machine), then every process at most every FULL_SCAN_GAP_MS; given up after
 *   GIVE_UP_MS. A new process running its parent's program that holds its parent's socket
 *   is between fork and exec (or a forked worker): the socket is the parent's. When the counters
 *   move, the processes that started lately are read at once (the "lookout"), and the sockets they
 *   hold remembered, so a short-lived curl's socket keeps its owner after the curl has gone.
 *
 * Its cost is bounded: past CPU_BUDGET of a core over a BUDGET_WINDOW_MS window (after the first
 * second, which carries the first read of every process) it polls half as often, up to a quarter,
 * without lookouts, and speeds up again once under half the budget; the time it spent slowed is
 * told, for answers to say that connections shorter than a slowed poll may be missing.
 *
 * Each process's identity is read once (while it runs the same program) and told once. Lines on
 * stdout, one event each, numbers in decimal, addresses as network-order bytes in hex, names and
 * arguments as hex of their bytes (they may hold any byte):
 *   P <id> <pid> <start ticks> <uid|-> <ppid> <comm hex> <cmdline hex, NUL-separated, <= 16 KiB>
 *   O <inode> <t|u><4|6> <state hex> <uid> <local hex>:<port> <remote hex>:<port> <first ms> <id|->
 *   C <inode> <last ms>
 *   F <cpu µs> <polls> <walks> <walk µs> <search µs> <processes read> <links read> <full scans>
 *     <ms slowed to stay within CPU_BUDGET>
 *   ! <table> <reason>
 * Times are ms since the epoch; CPU is this process's, from its start. An O line names an owner
 * told by a P line before it, among the last KEPT_IDS told (the reader keeps that many). It exits
 * when stdin closes (its sampler stopped or died) and, should that not happen, when its parent
 * dies. Memory is bounded: sockets (MAX_SOCKETS), processes (MAX_PROCS), remembered sockets.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 25
#define REFRESH_MS 2000
/* Share of one core the dumps may take: spaces them out on a machine with a large hash. */
#define WALK_BUDGET 0.01
#define MAX_WALK_GAP_MS 60
#define FULL_SCAN_GAP_MS 250
#define SCAN_SLICE_MS 10
#define GIVE_UP_MS 1000
#define RECENT_MS 500
#define YOUNG_MS 5000
/* The process list is read again when a pid was handed out, and at least this often. */
#define RELIST_MS 1000
#define FIGURES_MS 250
#define FLUSH_MS 100
/* The share of one core the helper may take (Node's reading of its news adds about 1%). */
#define CPU_BUDGET 0.03
#define BUDGET_WINDOW_MS 500
#define BUDGET_FROM_MS 1000
#define MAX_SLOWDOWN 4
/* The scheduler slice it asks for: its polls take well under this. */
#define SLICE_NS 200000
#define MAX_SOCKETS (1 << 18)
#define MAX_PROCS (1 << 16)
#define MAX_REMEMBERED 20000
#define CMDLINE_MAX 16384
#define KEPT_IDS 10000

/* TCP: every state but TIME_WAIT (6) and CLOSE (7), which no process holds. UDP: all but TIME_WAIT,
 * since a UDP socket with no peer is in CLOSE. */
#define WANTED_STATES (((1u << 12) - 1) & ~((1u << 6) | (1u << 7)))
#define UDP_STATES (((1u << 12) - 1) & ~(1u << 6))
/* TCPDIAG_GETSOCK: the first request type, which dumps both families in one walk. */
#define TCPDIAG_GETSOCK_TYPE 18
#define TCP_LISTEN 10

enum { T_TCP, T_TCP6, T_UDP, T_UDP6, TABLES };
static const char *TABLE_NAMES[TABLES] = {"tcp", "tcp6", "udp", "udp6"};

static int64_t now_ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
static int64_t cpu_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}
static void *grow(void *p, size_t n) {
  void *q = realloc(p, n);
  if (q == NULL) exit(3); /* out of memory: the sampler goes back to /proc */
  return q;
}

/* --- Sockets known, by inode: an open-addressing hash, deleted from by backward shift. --- */

struct sock {
  uint32_t inode; /* 0: an empty slot */
  uint8_t table, state, told, family;
  uint32_t uid, walk;
  uint8_t local[16], remote[16];
  uint16_t lport, rport;
  int32_t owner;       /* the pid found holding it (0: none yet) */
  int32_t holder;      /* the pid a search found it in (scratch) */
  int64_t first, last; /* ms since the epoch */
};
static struct sock *socks;
static uint32_t sock_cap, sock_count;

static uint32_t slot_of(uint32_t key, uint32_t cap) { return (key * 2654435761u) & (cap - 1); }

static struct sock *sock_get(uint32_t inode) {
  if (sock_count == 0) return NULL;
  for (uint32_t i = slot_of(inode, sock_cap);; i = (i + 1) & (sock_cap - 1)) {
    if (socks[i].inode == inode) return &socks[i];
    if (socks[i].inode == 0) return NULL;
  }
}

static struct sock *sock_put(uint32_t inode);

static void sock_grow(void) {
  struct sock *old = socks;
  uint32_t old_cap = sock_cap;
  sock_cap = old_cap ? old_cap * 2 : 4096;
  socks = calloc(sock_cap, sizeof *socks);
  if (socks == NULL) exit(3);
  sock_count = 0;
  for (uint32_t i = 0; i < old_cap; i++)
    if (old[i].inode) *sock_put(old[i].inode) = old[i];
  free(old);
}

/* A slot for `inode` (new ones zeroed but the inode), or NULL when the set is full. */
static struct sock *sock_put(uint32_t inode) {
  if ((sock_count + 1) * 2 > sock_cap) {
    if (sock_count >= MAX_SOCKETS) return NULL;
    sock_grow();
  }
  uint32_t i = slot_of(inode, sock_cap);
  while (socks[i].inode != 0 && socks[i].inode != inode) i = (i + 1) & (sock_cap - 1);
  if (socks[i].inode == 0) {
    memset(&socks[i], 0, sizeof socks[i]);
    socks[i].inode = inode;
    sock_count++;
  }
  return &socks[i];
}

static void sock_delete(struct sock *s) {
  uint32_t i = (uint32_t)(s - socks);
  socks[i].inode = 0;
  sock_count--;
  for (uint32_t j = (i + 1) & (sock_cap - 1); socks[j].inode != 0; j = (j + 1) & (sock_cap - 1)) {
    uint32_t home = slot_of(socks[j].inode, sock_cap);
    /* Moves back an entry whose home is not between the hole and it (cyclically). */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      socks[i] = socks[j];
      socks[j].inode = 0;
      i = j;
    }
  }
}

/* Inodes waiting for an owner, in the order they were listed. */
static uint32_t *pending;
static size_t pending_count, pending_cap;

static void pending_remove(uint32_t inode) {
  for (size_t i = 0; i < pending_count; i++)
    if (pending[i] == inode) {
      memmove(&pending[i], &pending[i + 1], (pending_count - i - 1) * sizeof *pending);
      pending_count--;
      return;
    }
}

/* --- Processes: an array sorted by pid (as /proc lists them). --- */

struct proc {
  int pid;
  uint32_t listing;      /* the listing that last saw it */
  int64_t listed;        /* when first listed (0: old when first met) */
  int64_t owned;         /* when it last held a socket searched for (0: never) */
  uint32_t *fds, *fd_inodes; /* its socket descriptors at the last read, by descriptor */
  uint32_t nfds, fds_cap;
  uint32_t id;           /* its identity as told (0: not read) */
  unsigned long long start; /* its start time (clock ticks since boot) when its identity was read */
  uint64_t comm_hash, args_hash; /* of its name and arguments then */
  long long verified;             /* the poll that last checked its identity */
  char *exe;             /* the program when its identity was read (NULL: unreadable) */
};
static struct proc *procs;
static size_t proc_count, proc_cap;
static uint32_t listing;
static int listed;
static int64_t last_relist = -1;

static struct proc *proc_find(int pid) {
  size_t lo = 0, hi = proc_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (procs[mid].pid < pid) lo = mid + 1;
    else hi = mid;
  }
  return lo < proc_count && procs[lo].pid == pid ? &procs[lo] : NULL;
}

static void proc_free(struct proc *p) {
  free(p->fds);
  free(p->fd_inodes);
  free(p->exe);
}

static int read_stat(int pid, char *buf, size_t size, char **comm, size_t *comm_len, char **rest);

/*
 * When a process met at the first look counts as listed: a process that started in the last
 * YOUNG_MS (a `curl` started just before sampling began, whose socket opens just after) as when
 * it started, so it counts as new; any other as 0, old (the first full scan reads them all).
 */
static int64_t first_listed(int pid, int64_t now) {
  static long ticks;
  if (!ticks) ticks = sysconf(_SC_CLK_TCK);
  char buf[1024], *comm, *rest;
  size_t len;
  unsigned long long start;
  if (ticks <= 0 || !read_stat(pid, buf, sizeof buf, &comm, &len, &rest)) return 0;
  if (sscanf(rest, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", &start) != 1)
    return 0;
  int64_t age = now_ms(CLOCK_BOOTTIME) - (int64_t)(start * 1000 / (unsigned long long)ticks);
  return age >= 0 && age <= YOUNG_MS && now - age > 0 ? now - age : 0;
}

/* `pid`'s entry, made when missing (a parent not in the last listing); NULL when full. */
static struct proc *proc_get(int pid, int64_t now) {
  struct proc *p = proc_find(pid);
  if (p) return p;
  if (proc_count >= MAX_PROCS) return NULL;
  if (proc_count == proc_cap) procs = grow(procs, (proc_cap = proc_cap ? proc_cap * 2 : 1024) * sizeof *procs);
  size_t at = 0;
  while (at < proc_count && procs[at].pid < pid) at++;
  memmove(&procs[at + 1], &procs[at], (proc_count - at) * sizeof *procs);
  proc_count++;
  memset(&procs[at], 0, sizeof procs[at]);
  procs[at].pid = pid;
  procs[at].listing = listing;
  procs[at].listed = listed ? now : first_listed(pid, now);
  return &procs[at];
}

/* --- Figures, and lines out --- */

static struct {
  long long polls, walks, walk_us, search_us, processes, links, full_scans, slowed_ms;
} fig;
static uint32_t next_id = 1;

static void hex(const unsigned char *bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    putchar(digits[bytes[i] >> 4]);
    putchar(digits[bytes[i] & 15]);
  }
}

static ssize_t read_whole(int dir, const char *name, char *buf, size_t size) {
  int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  return (ssize_t)got;
}

static char path_buf[64];
static const char *proc_path(int pid, const char *rest) {
  snprintf(path_buf, sizeof path_buf, "/proc/%d/%s", pid, rest);
  return path_buf;
}

/* The program `pid` runs, into buf; 0 when it cannot be read. */
static int read_exe(int pid, char *buf, size_t size) {
  ssize_t n = readlink(proc_path(pid, "exe"), buf, size - 1);
  if (n < 0) return 0;
  buf[n] = '\0';
  return 1;
}

/* The fields of /proc/<pid>/stat after "pid (comm) ", and comm; 0 when gone. */
static int read_stat(int pid, char *buf, size_t size, char **comm, size_t *comm_len, char **rest) {
  ssize_t n = read_whole(AT_FDCWD, proc_path(pid, "stat"), buf, size - 1);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *open = strchr(buf, '('), *close = strrchr(buf, ')');
  if (!open || !close || close < open || close[1] == '\0') return 0;
  *comm = open + 1;
  *comm_len = (size_t)(close - open - 1);
  *rest = close + 2;
  return 1;
}

static int parent_of(int pid) {
  char buf[1024], *comm, *rest;
  size_t len;
  if (!read_stat(pid, buf, sizeof buf, &comm, &len, &rest)) return 0;
  int ppid = 0;
  sscanf(rest, "%*s %d", &ppid);
  return ppid;
}

/* Whether two programs are the same (both unreadable counts as the same, as in owners.ts). */
static int same_program(int a, int b) {
  char x[4096], y[4096];
  int ha = read_exe(a, x, sizeof x), hb = read_exe(b, y, sizeof y);
  return ha == hb && (!ha || strcmp(x, y) == 0);
}

static uint64_t fnv(const char *bytes, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)bytes[i]) * 1099511628211ull;
  return h;
}

static int64_t search_now;
static int fresh(const struct proc *p, int64_t now);

/*
 * Who `pid` is, told in a P line: read again only when its program, name or start time changed,
 * and while it is new when its arguments did (a child between fork and exec still shows its
 * parent's name and arguments, and an exec of the same program keeps the name). Its id; 0 once
 * it has gone.
 */
static uint32_t identify(struct proc *p) {
  /* Checked once a poll: a server that accepted many connections is not read again for each. */
  if (p->id && p->verified == fig.polls && next_id - p->id < KEPT_IDS) return p->id;
  char exe[4096];
  int has_exe = read_exe(p->pid, exe, sizeof exe);
  static char stat[4096], cmdline[CMDLINE_MAX], status[4096];
  char *comm, *rest;
  size_t comm_len;
  if (!read_stat(p->pid, stat, sizeof stat, &comm, &comm_len, &rest)) return 0;
  char state[4];
  int ppid = 0;
  unsigned long long start = 0;
  /* Field 22 (starttime) is the 20th after comm. */
  if (sscanf(rest, "%3s %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", state,
             &ppid, &start) != 3)
    return 0;
  if (p->id && p->start != start) {
    /* The pid was used again by another process since it was read: nothing known of it holds. */
    p->nfds = 0;
    p->owned = 0;
    p->id = 0;
  }
  uint64_t comm_hash = fnv(comm, comm_len), args_hash = p->args_hash;
  ssize_t n = -1;
  if (fresh(p, search_now)) {
    n = read_whole(AT_FDCWD, proc_path(p->pid, "cmdline"), cmdline, sizeof cmdline);
    args_hash = fnv(cmdline, n < 0 ? 0 : (size_t)n);
  }
  int same = p->id && (has_exe ? p->exe && strcmp(p->exe, exe) == 0 : p->exe == NULL) &&
             comm_hash == p->comm_hash && args_hash == p->args_hash;
  /* The reader keeps the last KEPT_IDS identities told: an older one is told again. */
  if (same && next_id - p->id < KEPT_IDS) {
    p->verified = fig.polls;
    return p->id;
  }
  if (n < 0) n = read_whole(AT_FDCWD, proc_path(p->pid, "cmdline"), cmdline, sizeof cmdline);
  if (n < 0) n = 0;
  p->comm_hash = comm_hash;
  p->args_hash = fnv(cmdline, (size_t)n);
  ssize_t sn = read_whole(AT_FDCWD, proc_path(p->pid, "status"), status, sizeof status - 1);
  long uid = -1;
  if (sn > 0) {
    status[sn] = '\0';
    char *line = strstr(status, "\nUid:");
    if (line) uid = strtol(line + 5, NULL, 10);
  }
  free(p->exe);
  p->exe = has_exe ? strdup(exe) : NULL;
  p->id = next_id++;
  p->start = start;
  p->verified = fig.polls;
  printf("P %u %d %llu ", p->id, p->pid, start);
  if (uid >= 0) printf("%ld", uid);
  else putchar('-');
  printf(" %d ", ppid);
  hex((const unsigned char *)comm, comm_len);
  putchar(' ');
  hex((const unsigned char *)cmdline, (size_t)n);
  putchar('\n');
  return p->id;
}

static void tell_open(const struct sock *s, uint32_t id) {
  static const char protos[TABLES][3] = {"t4", "t6", "u4", "u6"};
  int n = s->family == AF_INET ? 4 : 16;
  printf("O %u %s %02x %u ", s->inode, protos[s->table], s->state, s->uid);
  hex(s->local, n);
  printf(":%u ", s->lport);
  hex(s->remote, n);
  printf(":%u %lld ", s->rport, (long long)s->first);
  if (id) printf("%u\n", id);
  else puts("-");
}

/* Forgets a socket that closed, telling it (one never told: both ends at once). */
static void drop(struct sock *s) {
  if (!s->told) {
    tell_open(s, 0);
    pending_remove(s->inode);
  }
  printf("C %u %lld\n", s->inode, (long long)s->last);
  sock_delete(s);
}

/* --- The tables, through netlink --- */

static int diag_fd = -1;
static char buffer[64 * 1024];
static uint32_t walk_no;
static int64_t walk_now;

/* Takes in one socket a dump listed. */
static void listed_socket(const struct inet_diag_msg *m, int table) {
  if (m->idiag_inode == 0) return;
  int n = m->idiag_family == AF_INET ? 4 : 16;
  struct sock *s = sock_get(m->idiag_inode);
  uint16_t lport = ntohs(m->id.idiag_sport), rport = ntohs(m->id.idiag_dport);
  if (s && s->lport == lport && s->rport == rport && memcmp(s->local, m->id.idiag_src, n) == 0 &&
      memcmp(s->remote, m->id.idiag_dst, n) == 0) {
    s->last = walk_now;
    s->walk = walk_no;
    s->state = m->idiag_state;
    return;
  }
  /* A socket that connects (or binds) after it was listed is told as closed and opened again. */
  if (s) drop(s);
  s = sock_put(m->idiag_inode);
  if (s == NULL) return; /* full: it goes unrecorded */
  s->table = (uint8_t)table;
  s->family = m->idiag_family;
  s->state = m->idiag_state;
  s->uid = m->idiag_uid;
  memcpy(s->local, m->id.idiag_src, n);
  memcpy(s->remote, m->id.idiag_dst, n);
  s->lport = lport;
  s->rport = rport;
  s->first = s->last = walk_now;
  s->walk = walk_no;
  if (pending_count == pending_cap)
    pending = grow(pending, (pending_cap = pending_cap ? pending_cap * 2 : 256) * sizeof *pending);
  pending[pending_count++] = s->inode;
}

/* Sends one dump request and takes in the sockets it lists; 0 when done, else an errno. */
static int dump(int type, const void *request, size_t size, int udp) {
  struct {
    struct nlmsghdr header;
    char body[sizeof(struct inet_diag_req_v2) > sizeof(struct inet_diag_req) ? sizeof(struct inet_diag_req_v2)
                                                                              : sizeof(struct inet_diag_req)];
  } message;
  memset(&message, 0, sizeof message);
  message.header.nlmsg_len = NLMSG_LENGTH(size);
  message.header.nlmsg_type = type;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.header.nlmsg_seq = ++walk_no;
  memcpy(message.body, request, size);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(diag_fd, &message, message.header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
    return errno;
  for (;;) {
    ssize_t got = recv(diag_fd, buffer, sizeof buffer, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, (size_t)got); h = NLMSG_NEXT(h, got)) {
      if (h->nlmsg_seq != walk_no) continue; /* the rest of a dump given up earlier */
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *err = NLMSG_DATA(h);
        return err->error ? -err->error : EPROTO;
      }
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) continue;
      const struct inet_diag_msg *m = NLMSG_DATA(h);
      if (m->idiag_family == AF_INET) listed_socket(m, udp ? T_UDP : T_TCP);
      else if (m->idiag_family == AF_INET6) listed_socket(m, udp ? T_UDP6 : T_TCP6);
    }
  }
}

static unsigned failed_tables; /* tables the kernel would not list: told once */

/* Walks the tables in `due` (a bit per table); the bits of those walked. */
static unsigned walk(unsigned due) {
  unsigned walked = 0;
  int err;
  if (due & ((1u << T_TCP) | (1u << T_TCP6))) {
    struct inet_diag_req old;
    memset(&old, 0, sizeof old);
    old.idiag_states = WANTED_STATES;
    if ((err = dump(TCPDIAG_GETSOCK_TYPE, &old, sizeof old, 0)) == 0) walked |= (1u << T_TCP) | (1u << T_TCP6);
    else if (!(failed_tables & 1)) {
      failed_tables |= (1u << T_TCP) | (1u << T_TCP6);
      printf("! tcp %s\n", strerror(err));
    }
  }
  for (int t = T_UDP; t <= T_UDP6; t++) {
    if (!(due & (1u << t))) continue;
    struct inet_diag_req_v2 request;
    memset(&request, 0, sizeof request);
    request.sdiag_family = t == T_UDP ? AF_INET : AF_INET6;
    request.sdiag_protocol = IPPROTO_UDP;
    request.idiag_states = UDP_STATES;
    if ((err = dump(SOCK_DIAG_BY_FAMILY, &request, sizeof request, 1)) == 0) walked |= 1u << t;
    else if (!(failed_tables & (1u << t))) {
      failed_tables |= 1u << t;
      printf("! %s %s\n", TABLE_NAMES[t], strerror(err));
    }
  }
  return walked;
}

/* Every dump numbers itself: a socket a walk listed carries a number from among the walk's. */
static void closed_since(unsigned walked, uint32_t first_dump) {
  static uint32_t *gone;
  static size_t gone_cap;
  size_t n = 0;
  for (uint32_t i = 0; i < sock_cap; i++) {
    struct sock *s = &socks[i];
    if (!s->inode || !(walked & (1u << s->table)) || s->walk >= first_dump) continue;
    if (n == gone_cap) gone = grow(gone, (gone_cap = gone_cap ? gone_cap * 2 : 256) * sizeof *gone);
    gone[n++] = s->inode;
  }
  for (size_t i = 0; i < n; i++) {
    struct sock *s = sock_get(gone[i]);
    if (s) drop(s);
  }
}

/* --- Processes' descriptors --- */

static int proc_dir = -1;

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Calls `each` with every numeric name in the directory open at `fd`, from its start. */
static void numeric_entries(int fd, void (*each)(unsigned long, void *), void *arg) {
  static char entries[32 * 1024];
  lseek(fd, 0, SEEK_SET);
  for (;;) {
    long n = syscall(SYS_getdents64, fd, entries, sizeof entries);
    if (n <= 0) return;
    for (long at = 0; at < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(entries + at);
      at += d->d_reclen;
      /* By hand: the listing of /proc and of busy processes' descriptors is the hot loop here. */
      const char *c = d->d_name;
      unsigned long v = 0;
      while (*c >= '0' && *c <= '9') v = v * 10 + (unsigned long)(*c++ - '0');
      if (c != d->d_name && *c == '\0') each(v, arg);
    }
  }
}

static int64_t relist_now;
static void listed_pid(unsigned long pid, void *arg) {
  (void)arg;
  struct proc *p = proc_get((int)pid, relist_now);
  if (p) p->listing = listing;
}

/* Lists /proc: forgets the processes that ended, notes when each new one was first listed. */
static void relist(int64_t now) {
  listing++;
  relist_now = now;
  numeric_entries(proc_dir, listed_pid, NULL);
  listed = 1;
  size_t kept = 0;
  for (size_t i = 0; i < proc_count; i++) {
    if (procs[i].listing == listing) procs[kept++] = procs[i];
    else proc_free(&procs[i]);
  }
  proc_count = kept;
  last_relist = now;
}

/* Whether `pid` started within RECENT_MS (it counts as new until then). */
static int fresh(const struct proc *p, int64_t now) { return p->listed != 0 && now - p->listed <= RECENT_MS; }

/* --- Remembered sockets: who held each socket a lookout met (cleared when full). --- */

struct held {
  uint32_t inode, id;
  int pid, ppid;
  uint8_t like_parent;
};
static struct held *memory;
static uint32_t memory_cap = 1u << 16, memory_count;

static struct held *memory_get(uint32_t inode) {
  if (!memory) return NULL;
  for (uint32_t i = slot_of(inode, memory_cap);; i = (i + 1) & (memory_cap - 1)) {
    if (memory[i].inode == inode) return &memory[i];
    if (memory[i].inode == 0) return NULL;
  }
}

static void remember(uint32_t inode, const struct held *h) {
  if (!memory) memory = grow(NULL, memory_cap * sizeof *memory), memset(memory, 0, memory_cap * sizeof *memory);
  if (memory_count >= MAX_REMEMBERED) {
    memset(memory, 0, memory_cap * sizeof *memory);
    memory_count = 0;
  }
  uint32_t i = slot_of(inode, memory_cap);
  while (memory[i].inode != 0 && memory[i].inode != inode) i = (i + 1) & (memory_cap - 1);
  if (memory[i].inode == 0) memory_count++;
  memory[i] = *h;
  memory[i].inode = inode;
}

/* --- The search --- */

static size_t wanted_left;
static int searching;

/*
 * Reads `pid`'s descriptors, noting each socket (descriptors known to hold a socket still open are
 * not read again); the wanted sockets it holds get it as their holder. A lookout also remembers who
 * holds each socket met.
 */
struct scan_state {
  struct proc *p;
  int dir;
  size_t n, old;
};
static uint32_t *scan_fds, *scan_inodes;
static size_t scan_cap;

/* One descriptor of the process being read. */
static void scanned_fd(unsigned long number, void *arg) {
  struct scan_state *st = arg;
  const struct proc *p = st->p;
  uint32_t fd = (uint32_t)number, inode = 0;
  /* The cache is in descriptor order, as the directory lists them. */
  while (st->old < p->nfds && p->fds[st->old] < fd) st->old++;
  if (st->old < p->nfds && p->fds[st->old] == fd && sock_get(p->fd_inodes[st->old]))
    inode = p->fd_inodes[st->old];
  else {
    char name[16], link[64], *at = name + sizeof name - 1;
    *at = '\0';
    uint32_t rest = fd;
    do *--at = (char)('0' + rest % 10); while ((rest /= 10) != 0);
    ssize_t len = readlinkat(st->dir, at, link, sizeof link - 1);
    if (len < 0) return; /* closed while we looked */
    fig.links++;
    link[len] = '\0';
    if (strncmp(link, "socket:[", 8) != 0) return;
    inode = (uint32_t)strtoul(link + 8, NULL, 10);
  }
  if (st->n == scan_cap) {
    scan_cap = scan_cap ? scan_cap * 2 : 256;
    scan_fds = grow(scan_fds, scan_cap * sizeof *scan_fds);
    scan_inodes = grow(scan_inodes, scan_cap * sizeof *scan_inodes);
  }
  scan_fds[st->n] = fd;
  scan_inodes[st->n++] = inode;
  struct sock *s = sock_get(inode);
  if (searching && s && !s->told && s->holder == 0) {
    s->holder = p->pid;
    wanted_left--;
  }
}

static void scan(struct proc *p, int lookout) {
  int dir = openat(proc_dir, proc_path(p->pid, "fd") + 6, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return; /* gone, or not ours to read */
  fig.processes++;
  struct scan_state st = {.p = p, .dir = dir};
  numeric_entries(dir, scanned_fd, &st);
  size_t n = st.n;
  close(dir);
  if (p->fds_cap < n) {
    p->fds_cap = (uint32_t)n;
    p->fds = grow(p->fds, n * sizeof *p->fds);
    p->fd_inodes = grow(p->fd_inodes, n * sizeof *p->fd_inodes);
  }
  if (n) {
    memcpy(p->fds, scan_fds, n * sizeof *scan_fds);
    memcpy(p->fd_inodes, scan_inodes, n * sizeof *scan_inodes);
  }
  p->nfds = (uint32_t)n;
  const uint32_t *inodes = p->fd_inodes;
  if (!lookout || n == 0) return;
  /* A new process running its parent's program that holds one of its parent's sockets is a copy
   * between fork and exec (or a forked worker): what it holds is not noted as its own. */
  size_t unknown = 0;
  for (size_t i = 0; i < n; i++) unknown += memory_get(inodes[i]) == NULL;
  if (unknown == 0) return;
  int ppid = parent_of(p->pid);
  if (ppid <= 0) return;
  uint32_t id = identify(p);
  if (!id) return;
  struct held h = {.id = id, .pid = p->pid, .ppid = ppid};
  h.like_parent = fresh(p, search_now) && same_program(p->pid, ppid);
  if (h.like_parent) {
    struct proc *parent = proc_find(ppid);
    if (!parent || parent->nfds == 0) return;
    for (size_t i = 0; i < n; i++)
      for (uint32_t j = 0; j < parent->nfds; j++)
        if (parent->fd_inodes[j] == inodes[i]) return;
  }
  for (size_t i = 0; i < n; i++)
    if (!memory_get(inodes[i])) remember(inodes[i], &h);
}

/* Whether `p` holds `inode` now (read again; its cache says on which descriptor). */
static int holds(const struct proc *p, uint32_t inode) {
  for (uint32_t i = 0; i < p->nfds; i++) {
    if (p->fd_inodes[i] != inode) continue;
    char path[64], link[64], want[32];
    snprintf(path, sizeof path, "/proc/%d/fd/%u", p->pid, p->fds[i]);
    snprintf(want, sizeof want, "socket:[%u]", inode);
    ssize_t len = readlink(path, link, sizeof link - 1);
    if (len < 0) return 0;
    link[len] = '\0';
    return strcmp(link, want) == 0;
  }
  return 0;
}

/* Whether the parent `ppid` holds `inode` (its descriptors read again). */
static int parent_holds(int ppid, uint32_t inode, int64_t now) {
  struct proc *parent = proc_get(ppid, now);
  if (!parent) return 0;
  scan(parent, 0);
  for (uint32_t i = 0; i < parent->nfds; i++)
    if (parent->fd_inodes[i] == inode) return 1;
  return 0;
}

static void search(struct proc *p) {
  if (wanted_left == 0 || p == NULL || p->listing == UINT32_MAX) return;
  p->listing = UINT32_MAX; /* searched: marked until the search ends */
  scan(p, 0);
}

static int by_owned(const void *a, const void *b) {
  int64_t x = (*(struct proc *const *)a)->owned, y = (*(struct proc *const *)b)->owned;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The last pid handed out (/proc/loadavg's last field): a new process moves it. */
static int loadavg_fd = -1;
static long last_pid(void) {
  char text[256];
  ssize_t n = loadavg_fd < 0 ? -1 : pread(loadavg_fd, text, sizeof text - 1, 0);
  if (n <= 0) return -1;
  text[n] = '\0';
  const char *space = strrchr(text, ' ');
  return space ? strtol(space + 1, NULL, 10) : -1;
}

/* Lists /proc again when a process may have started since (or RELIST_MS passed: some ended). */
static void maybe_relist(int64_t now) {
  static long relisted_pid = -2;
  if (listed && now == last_relist) return; /* this poll's lookout listed them */
  long pid = last_pid();
  if (listed && pid >= 0 && pid == relisted_pid && now - last_relist < RELIST_MS) return;
  relist(now);
  relisted_pid = pid;
}

/* Reads the descriptors of processes that started lately: the counters moved. */
static void lookout(int64_t now) {
  if (!listed) return; /* the first search reads every process anyway */
  maybe_relist(now);
  search_now = now;
  for (size_t i = proc_count; i-- > 0;)
    if (fresh(&procs[i], now)) scan(&procs[i], 1);
}

/*
 * A child between fork and exec holds copies of all its parent's sockets for a moment (a server
 * that starts `curl` lends it its own connections), and a pre-forked worker holds its parent's: a
 * socket found in a process started within `recent` ms that runs its parent's program, and that
 * the parent holds too, is the parent's.
 */
static void prefer_parents(int64_t now, int64_t recent) {
  for (size_t i = 0; i < pending_count; i++) {
    struct sock *s = sock_get(pending[i]);
    if (!s || !s->holder) continue;
    struct proc *p = proc_find(s->holder);
    if (!p || !p->listed || now - p->listed > recent) continue;
    int ppid = parent_of(p->pid);
    if (ppid <= 1) continue;
    /* After the exec, a child still holding the socket under another program has it as its own. */
    char exe[8];
    if (read_exe(p->pid, exe, sizeof exe) && !same_program(p->pid, ppid) && holds(p, s->inode)) continue;
    if (parent_holds(ppid, s->inode, now)) s->holder = ppid;
  }
}

static int full_from; /* the pid a full scan goes on from (0: none under way) */
static int64_t last_full_scan = -1000000;

/* Looks for the owners of the sockets that have none yet, and tells those resolved. */
static void resolve(int64_t now, int64_t wall) {
  if (pending_count == 0) return;
  int64_t began = cpu_us();
  maybe_relist(now);
  search_now = now;
  searching = 1;
  wanted_left = 0;
  for (size_t i = 0; i < pending_count; i++) {
    struct sock *s = sock_get(pending[i]);
    if (s) s->holder = 0, wanted_left++;
  }
  uint32_t this_listing = listing;
  /* A connection a server accepted is most likely held by the process that listens on its port. */
  static struct sock **listeners;
  static size_t listeners_cap;
  size_t nl = 0;
  for (uint32_t j = 0; j < sock_cap; j++) {
    struct sock *l = &socks[j];
    if (!l->inode || !l->owner || !(l->table >= T_UDP ? l->rport == 0 : l->state == TCP_LISTEN)) continue;
    if (nl == listeners_cap)
      listeners = grow(listeners, (listeners_cap = listeners_cap ? listeners_cap * 2 : 64) * sizeof *listeners);
    listeners[nl++] = l;
  }
  for (size_t i = 0; i < pending_count && wanted_left; i++) {
    struct sock *s = sock_get(pending[i]);
    for (size_t j = 0; s && j < nl; j++)
      if ((listeners[j]->table >= T_UDP) == (s->table >= T_UDP) && listeners[j]->lport == s->lport) {
        search(proc_find(listeners[j]->owner));
        break;
      }
  }
  /* Then those that started lately, newest first (at the first look none has: the full scan, due
   * then, reads every process). */
  for (size_t i = proc_count; i-- > 0 && wanted_left;)
    if (fresh(&procs[i], now)) search(&procs[i]);
  prefer_parents(now, RECENT_MS);
  /* Then those that held sockets lately, latest first; then everyone, when a full scan is due. */
  if (wanted_left) {
    static struct proc **order;
    static size_t order_cap;
    size_t n = 0;
    for (size_t i = 0; i < proc_count; i++) {
      if (!procs[i].owned) continue;
      if (n == order_cap) order = grow(order, (order_cap = order_cap ? order_cap * 2 : 64) * sizeof *order);
      order[n++] = &procs[i];
    }
    if (n > 1) qsort(order, n, sizeof *order, by_owned);
    for (size_t i = 0; i < n && wanted_left; i++) search(order[i]);
  }
  /* Then those that started in the last seconds: on a busy machine a program slow to start opens
   * its first socket after it stopped counting as new, and a full scan may not be due. */
  for (size_t i = proc_count; i-- > 0 && wanted_left;)
    if (procs[i].listed && now - procs[i].listed <= YOUNG_MS) search(&procs[i]);
  prefer_parents(now, YOUNG_MS);
  /* A full scan, by pid, takes at most SCAN_SLICE_MS at a time (the first, of every process, took
   * over 100 ms on a busy machine, and sockets opened and closed meanwhile went unseen): the next
   * poll goes on from where it stopped. */
  int full = now - last_full_scan >= FULL_SCAN_GAP_MS || full_from > 0;
  if (full && wanted_left) {
    if (full_from == 0) fig.full_scans++;
    int64_t slice = now_ms(CLOCK_MONOTONIC);
    size_t i = 0;
    while (i < proc_count && procs[i].pid < full_from) i++;
    full_from = 0;
    for (size_t searched = 0; i < proc_count && wanted_left; i++) {
      search(&procs[i]);
      if (++searched % 16 == 0 && now_ms(CLOCK_MONOTONIC) - slice >= SCAN_SLICE_MS && i + 1 < proc_count) {
        full_from = procs[i + 1].pid;
        break;
      }
    }
  }
  /* A socket is given up on only after a whole scan did not find it. */
  full = full && full_from == 0;
  if (full && wanted_left) last_full_scan = now;
  searching = 0;
  for (size_t i = 0; i < proc_count; i++)
    if (procs[i].listing == UINT32_MAX) procs[i].listing = this_listing;
  /* Who holds each socket found; who held each one still wanted when a lookout last met it. */
  size_t kept = 0;
  for (size_t i = 0; i < pending_count; i++) {
    struct sock *s = sock_get(pending[i]);
    if (!s) continue;
    uint32_t id = 0;
    if (s->holder) {
      struct proc *p = proc_find(s->holder);
      if (p) {
        p->owned = now;
        id = identify(p);
        if (id) s->owner = p->pid;
      }
    }
    /* Not found, or its holder ended before it could be read: who held it when a lookout met it. */
    if (!id) {
      struct held *h = memory_get(s->inode);
      if (h && next_id - h->id < KEPT_IDS) {
        id = h->id;
        s->owner = h->pid;
        /* A parent that holds it now lent it to its child between fork and exec. */
        if (h->like_parent && parent_holds(h->ppid, s->inode, now)) {
          struct proc *parent = proc_find(h->ppid);
          uint32_t parent_id = parent ? identify(parent) : 0;
          if (parent_id) id = parent_id, s->owner = h->ppid;
        }
      }
    }
    /* Searched everywhere for a while: nobody we may look at holds it. */
    if (id || (full && wall - s->first >= GIVE_UP_MS)) {
      s->told = 1;
      tell_open(s, id);
    } else pending[kept++] = pending[i];
  }
  pending_count = kept;
  fig.search_us += cpu_us() - began;
}

/* --- The counters --- */

struct counters {
  long long tcp[4], tcp6, udp, udp6;
};
static int sockstat_fd = -1, sockstat6_fd = -1;

static ssize_t pread_all(int fd, char *buf, size_t size) {
  if (fd < 0) return -1;
  ssize_t n = pread(fd, buf, size - 1, 0);
  if (n < 0) return -1;
  buf[n] = '\0';
  return n;
}

static long long value_after(const char *text, const char *key) {
  const char *p = strstr(text, key);
  return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* The counters that move when a socket opens or closes (not `mem`: it moves with every packet). */
static void read_counters(struct counters *c) {
  char text[1024];
  memset(c, 0xff, sizeof *c);
  if (pread_all(sockstat_fd, text, sizeof text) > 0) {
    const char *tcp = strstr(text, "TCP: ");
    if (tcp) {
      c->tcp[0] = value_after(tcp, "inuse ");
      c->tcp[1] = value_after(tcp, "orphan ");
      c->tcp[2] = value_after(tcp, "tw ");
      c->tcp[3] = value_after(tcp, "alloc ");
    }
    c->udp = value_after(text, "\nUDP: inuse ");
  }
  if (pread_all(sockstat6_fd, text, sizeof text) > 0) {
    c->tcp6 = value_after(text, "TCP6: inuse ");
    c->udp6 = value_after(text, "UDP6: inuse ");
  }
}

/* The spacing of a table's walks that keeps them within WALK_BUDGET, at most MAX_WALK_GAP_MS. */
static int64_t gap_of(int64_t cost_us) {
  int64_t gap = (int64_t)(cost_us / 1000.0 / WALK_BUDGET);
  return gap > MAX_WALK_GAP_MS ? MAX_WALK_GAP_MS : gap;
}

/*
 * Its polls must come on time when other programs keep every core busy (late ones let short
 * connections open and close unseen): it asks the scheduler for short slices (Linux 6.12 and
 * later: a task with a shorter slice preempts sooner when it wakes; anyone may ask), and where it
 * may (CAP_SYS_NICE), a slightly higher priority. Its CPU stays bounded by its own budgets.
 */
static void ask_for_time(void) {
  struct {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
  } attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.policy = 0; /* SCHED_OTHER */
  attr.runtime = SLICE_NS;
  attr.nice = -5;
  if (syscall(SYS_sched_setattr, 0, &attr, 0) == 0) return;
  attr.nice = 0;
  syscall(SYS_sched_setattr, 0, &attr, 0);
}

static void figures(void) {
  printf("F %lld %lld %lld %lld %lld %lld %lld %lld %lld\n", (long long)cpu_us(), fig.polls, fig.walks,
         fig.walk_us, fig.search_us, fig.processes, fig.links, fig.full_scans, fig.slowed_ms);
}

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  /* Should the sampler die without closing stdin, this ends with it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;
  static char out[64 * 1024];
  setvbuf(stdout, out, _IOFBF, sizeof out);
  ask_for_time();
  diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  proc_dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (diag_fd < 0 || proc_dir < 0) {
    printf("! all %s\n", strerror(errno));
    fflush(stdout);
    return 1;
  }
  /* A dump that stalls must not hang the loop: it gives up after a second. */
  struct timeval limit = {1, 0};
  setsockopt(diag_fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  sockstat_fd = open("/proc/net/sockstat", O_RDONLY | O_CLOEXEC);
  sockstat6_fd = open("/proc/net/sockstat6", O_RDONLY | O_CLOEXEC);
  loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);

  struct counters before, now_counters;
  memset(&before, 0xfe, sizeof before);
  static int64_t last_walk[TABLES], walk_cost_us[TABLES];
  int ever[TABLES] = {0};
  unsigned dirty = 0;
  int64_t next_poll = now_ms(CLOCK_MONOTONIC), next_figures = next_poll, next_flush = next_poll;
  /* The budget: how much slower than POLL_MS it polls, and the window it judges its CPU over. */
  int slowdown = 1;
  int64_t began_ms = next_poll, window_from = -1, window_cpu = 0, last_poll = next_poll;
  for (;;) {
    int64_t mono = now_ms(CLOCK_MONOTONIC);
    /* A walk due between two polls (a table moved, and the gap since its last walk ends) wakes it
     * then: walks stay at most MAX_WALK_GAP_MS apart, not that plus a poll. */
    int64_t wake = next_poll;
    for (int t = 0; t < TABLES; t++)
      if ((dirty & ~failed_tables & (1u << t)) && last_walk[t] + gap_of(walk_cost_us[t]) < wake)
        wake = last_walk[t] + gap_of(walk_cost_us[t]);
    if (mono < wake) {
      struct pollfd in = {.fd = 0, .events = POLLIN};
      int ready = poll(&in, 1, (int)(wake - mono));
      if (ready > 0) {
        char scratch[256];
        ssize_t n = read(0, scratch, sizeof scratch);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return 0;
      }
      continue;
    }
    /* Late (a busy machine): the next poll comes a full gap after this one. */
    int64_t interval = (int64_t)POLL_MS * slowdown;
    if (mono >= next_poll) next_poll = next_poll + interval > mono ? next_poll + interval : mono + interval;
    if (slowdown > 1) fig.slowed_ms += mono - last_poll;
    last_poll = mono;
    if (mono - began_ms >= BUDGET_FROM_MS) {
      int64_t cpu = cpu_us();
      if (window_from < 0) {
        window_from = mono;
        window_cpu = cpu;
      } else if (mono - window_from >= BUDGET_WINDOW_MS) {
        double share = (double)(cpu - window_cpu) / 1000.0 / (double)(mono - window_from);
        if (share > CPU_BUDGET && slowdown < MAX_SLOWDOWN) slowdown *= 2;
        else if (share < CPU_BUDGET / 2 && slowdown > 1) slowdown /= 2;
        window_from = mono;
        window_cpu = cpu;
      }
    }
    fig.polls++;
    int64_t wall = now_ms(CLOCK_REALTIME);
    read_counters(&now_counters);
    unsigned moved = 0;
    if (memcmp(now_counters.tcp, before.tcp, sizeof before.tcp) != 0) moved |= 1u << T_TCP;
    if (now_counters.tcp6 != before.tcp6) moved |= 1u << T_TCP6;
    if (now_counters.udp != before.udp) moved |= 1u << T_UDP;
    if (now_counters.udp6 != before.udp6) moved |= 1u << T_UDP6;
    before = now_counters;
    dirty |= moved;
    /* A socket just opened by a new process (a `curl`) may be closed again by the time the search
     * that wants it runs: its process is noted now, before the tables are read. */
    if (moved && slowdown == 1) lookout(mono);
    unsigned due = 0;
    for (int t = 0; t < TABLES; t++) {
      int64_t since = mono - last_walk[t];
      if (!ever[t] || since >= REFRESH_MS || ((dirty & (1u << t)) && since >= gap_of(walk_cost_us[t])))
        due |= 1u << t;
    }
    /* TCP v4 and v6 come in one walk of the hash. */
    if (due & ((1u << T_TCP) | (1u << T_TCP6))) due |= (1u << T_TCP) | (1u << T_TCP6);
    due &= ~failed_tables;
    if (due) {
      int64_t began = cpu_us();
      walk_now = wall;
      uint32_t first_dump = walk_no + 1;
      unsigned walked = walk(due);
      closed_since(walked, first_dump);
      int64_t cost = cpu_us() - began;
      fig.walks++;
      fig.walk_us += cost;
      for (int t = 0; t < TABLES; t++) {
        if (!(due & (1u << t))) continue;
        walk_cost_us[t] = ever[t] ? (7 * walk_cost_us[t] + 3 * cost) / 10 : cost;
        ever[t] = 1;
        last_walk[t] = mono;
        dirty &= ~(1u << t);
      }
    }
    resolve(mono, wall);
    /* News goes out at most every FLUSH_MS: each write wakes Node, which costs more than the news. */
    if (mono >= next_figures) {
      figures();
      next_figures = mono + FIGURES_MS;
    }
    if (mono >= next_flush) {
      if (fflush(stdout) != 0) return 1;
      next_flush = mono + FLUSH_MS;
    }
  }
}
