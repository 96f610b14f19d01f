/*
 * SharkMCP's ring drain watch (Linux): tells when dumpcap has taken every packet the kernel held
 * for it at the moment of the call, so that a stop can end dumpcap then and lose nothing.
 *
 * Why: libpcap on Linux captures through a TPACKET_V3 ring. The kernel fills one block at a time
 * and hands it to dumpcap only when it is full or when its retire timer fires (dumpcap asks for
 * 250 ms); dumpcap drops what the kernel still holds when it ends. A fixed wait for the timer costs
 * every stop its worst case; this watch costs what the ring actually holds: nothing when the open
 * block is empty, else until that block (and any handed over but not yet read) is back with the
 * kernel, which libpcap does once every packet in it went to dumpcap's writer.
 *
 * How: the packet sockets of process <pid> (found in /proc/<pid>/fd) are duplicated here with
 * pidfd_getfd (root, or ptrace rights over dumpcap), their ring's size read with a NETLINK_SOCK_DIAG
 * packet_diag request (PACKET_SHOW_RING_CFG), and the ring mapped read-only; the block headers are
 * then read every POLL_US. Nothing is written to the ring or the socket: dumpcap's counters and
 * statistics are untouched.
 *
 * Usage: ring-drain <pid> <timeout ms>. Prints one line and exits:
 *   drained <blocks waited for> <µs> <retire timeout ms>   (exit 0)
 *   timeout <blocks still held> <µs> <retire timeout ms>   (exit 2)
 *   ! <reason>                                             (exit 1: no V3 ring seen; wait otherwise)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Often enough that the answer comes within a fraction of a millisecond of the hand-over. */
#define POLL_US 1000
/* dumpcap captures from one socket per interface; more than this is not a capture we started. */
#define MAX_RINGS 16

struct ring {
  uint32_t inode;
  int fd;
  uint8_t *map;
  size_t size;
  uint32_t block_size, block_nr, retire_ms;
  /* The newest block's sequence number at the call, and whether it held packets then. */
  uint64_t open_seq;
  int open_held;
};

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct tpacket_block_desc *block(const struct ring *r, uint32_t i) {
  return (struct tpacket_block_desc *)(r->map + (size_t)i * r->block_size);
}

static uint32_t status_of(const struct tpacket_block_desc *b) {
  return __atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
}

/* Fills block size, count and retire timeout for each ring from one packet_diag dump. */
static int read_ring_configs(struct ring *rings, int n) {
  int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return -1;
  struct {
    struct nlmsghdr nlh;
    struct packet_diag_req req;
  } msg = {0};
  msg.nlh.nlmsg_len = sizeof(msg);
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = AF_PACKET;
  msg.req.pdiag_show = PACKET_SHOW_RING_CFG;
  if (send(nl, &msg, sizeof(msg), 0) < 0) {
    close(nl);
    return -1;
  }
  static char buf[32768];
  int done = 0;
  while (!done) {
    ssize_t len = recv(nl, buf, sizeof(buf), 0);
    if (len <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        done = 1;
        break;
      }
      struct packet_diag_msg *m = NLMSG_DATA(h);
      struct ring *r = NULL;
      for (int i = 0; i < n; i++)
        if (rings[i].inode == m->pdiag_ino) r = &rings[i];
      if (r == NULL) continue;
      int attrs = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
      for (struct nlattr *a = (struct nlattr *)(m + 1); attrs >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
                                                       a->nla_len <= attrs;
           attrs -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
        if (a->nla_type != PACKET_DIAG_RX_RING) continue;
        struct packet_diag_ring *cfg = (struct packet_diag_ring *)(a + 1);
        r->block_size = cfg->pdr_block_size;
        r->block_nr = cfg->pdr_block_nr;
        r->retire_ms = cfg->pdr_retire_tmo;
      }
    }
  }
  close(nl);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: ring-drain <pid> <timeout ms>\n");
    return 64;
  }
  const uint64_t start = now_us();
  const long pid = strtol(argv[1], NULL, 10);
  const uint64_t deadline = start + (uint64_t)strtoul(argv[2], NULL, 10) * 1000u;
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) {
    printf("! pidfd_open: %s\n", strerror(errno));
    return 1;
  }
  char dir[64];
  snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
  DIR *d = opendir(dir);
  if (d == NULL) {
    printf("! %s: %s\n", dir, strerror(errno));
    return 1;
  }
  struct ring rings[MAX_RINGS];
  int n = 0, getfd_errno = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL && n < MAX_RINGS;) {
    char target[64];
    ssize_t len = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    unsigned long inode;
    if (sscanf(target, "socket:[%lu]", &inode) != 1) continue;
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
    if (fd < 0) {
      /* No ptrace rights over dumpcap (a non-root server, dumpcap with file capabilities). */
      getfd_errno = errno;
      continue;
    }
    int domain = 0, version = 0;
    socklen_t sl = sizeof(domain);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &sl) < 0 || domain != AF_PACKET) {
      close(fd);
      continue;
    }
    sl = sizeof(version);
    if (getsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, &sl) < 0 || version != TPACKET_V3) {
      close(fd);
      printf("! a packet socket without a TPACKET_V3 ring\n");
      return 1;
    }
    rings[n++] = (struct ring){.inode = (uint32_t)inode, .fd = fd};
  }
  closedir(d);
  if (n == 0 && getfd_errno != 0) {
    printf("! pidfd_getfd: %s\n", strerror(getfd_errno));
    return 1;
  }
  if (n == 0) {
    printf("! no packet socket\n");
    return 1;
  }
  if (read_ring_configs(rings, n) < 0) {
    printf("! packet_diag: %s\n", strerror(errno));
    return 1;
  }
  uint32_t retire_ms = 0;
  for (int i = 0; i < n; i++) {
    struct ring *r = &rings[i];
    if (r->block_nr == 0 || r->block_size == 0) {
      printf("! no ring configuration for socket %u\n", r->inode);
      return 1;
    }
    r->size = (size_t)r->block_size * r->block_nr;
    r->map = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);
    if (r->map == MAP_FAILED) {
      printf("! mmap: %s\n", strerror(errno));
      return 1;
    }
    if (r->retire_ms > retire_ms) retire_ms = r->retire_ms;
    /* The block the kernel fills now is the one opened last: the highest sequence number. */
    uint32_t open = 0;
    for (uint32_t b = 0; b < r->block_nr; b++)
      if (block(r, b)->hdr.bh1.seq_num > block(r, open)->hdr.bh1.seq_num) open = b;
    r->open_seq = block(r, open)->hdr.bh1.seq_num;
    r->open_held = status_of(block(r, open)) == TP_STATUS_KERNEL && block(r, open)->hdr.bh1.num_pkts > 0;
  }
  /* Done once no block opened up to the call is still with dumpcap unread, and the block that was
   * open with packets in it has been retired (a newer one opened) and read. */
  int waited = -1;
  for (;;) {
    int held = 0;
    for (int i = 0; i < n; i++) {
      struct ring *r = &rings[i];
      uint64_t newest = 0;
      for (uint32_t b = 0; b < r->block_nr; b++) {
        const struct tpacket_block_desc *bd = block(r, b);
        uint32_t status = status_of(bd);
        uint64_t seq = bd->hdr.bh1.seq_num;
        if (seq > newest) newest = seq;
        if (seq <= r->open_seq && (status & TP_STATUS_USER)) held++;
      }
      if (r->open_held && newest <= r->open_seq) held++;
    }
    if (waited < 0) waited = held;
    uint64_t t = now_us();
    if (held == 0) {
      printf("drained %d %llu %u\n", waited, (unsigned long long)(t - start), retire_ms);
      return 0;
    }
    if (t >= deadline) {
      printf("timeout %d %llu %u\n", held, (unsigned long long)(t - start), retire_ms);
      return 2;
    }
    usleep(POLL_US);
  }
}
