/*
 * SharkMCP's summary counter for tshark: the exact conversations, endpoints, protocol hierarchy
 * and expert messages of one summary pass, added up inside tshark from the tap data of Wireshark's
 * own dissectors (IP, IPv6, TCP, UDP, expert info, and the protocol tree as `-z io,phs` reads it),
 * and printed once at the end as tab-separated lines.
 *
 * Why: tshark 4.0's `-z conv` rounds bytes ("262 kB"), so exact conversations otherwise need one
 * printed line per packet, which costs more than the dissection on light traffic; and a worker of
 * a chunked summary would need a filter on each `-z` statistic to skip its warm-up, which costs a
 * sixth of the pass. The counter keeps the rules of ConversationAggregator
 * (src/analysis/conversations.ts) and of tshark's io,phs, endpoints and expert statistics, which
 * are the fallback when this library cannot be built or loaded; the tests hold them all equal.
 *
 * It is loaded by a Lua script (summary-counter.lua) through package.loadlib, so it is active only
 * in the tshark runs that ask for it, and it needs no Lua headers: the one Lua call it makes is
 * declared below. It decodes nothing itself.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <epan/packet.h>
#include <epan/tap.h>
#include <epan/to_str.h>
#include <epan/expert.h>
#include <epan/conversation.h>
#include <epan/proto.h>
#include <epan/epan_dissect.h>
#include <epan/dissectors/packet-ip.h>
#include <epan/dissectors/packet-tcp.h>
#include <epan/dissectors/packet-udp.h>
#include <wiretap/wtap.h>

/* Lua 5.2's lua_tonumberx and lua_tolstring, declared by hand: tshark has the library loaded already. */
extern double lua_tonumberx(void *L, int idx, int *isnum);
extern const char *lua_tolstring(void *L, int idx, size_t *len);

#define SYN 0x002
#define ACK 0x010

enum kind { KIND_TCP, KIND_UDP, KIND_IPV4, KIND_IPV6 };
static const char *const KIND_NAME[] = {"tcp", "udp", "ipv4", "ipv6"};

typedef struct {
    enum kind kind;
    gboolean v4;
    /* Side a: the source of the part's first counted packet, as raw bytes and port. */
    guint8 a_addr[16];
    int a_len;
    guint32 a_port; /* G_MAXUINT32 for IP parts, which have no port */
    char *a_text;   /* side a's address alone, as tshark prints it */
    char *a;        /* "addr:port", "[addr]:port" or "addr" */
    char *b;
    guint64 frames_a_to_b;
    guint64 frames_b_to_a;
    guint64 bytes;
    nstime_t first;
    nstime_t last;
    gboolean continues;
    guint32 ifaces; /* the capture interfaces its packets came from: bit i for ID i, bit 31 for 31 and later */
} part_t;

/* One endpoint as `tshark -z endpoints,<kind>` counts it: an address, with a port for TCP and UDP. */
typedef struct {
    guint8 kind;
    guint8 len;
    guint8 addr[16];
    guint32 port; /* G_MAXUINT32 without one */
} endpoint_key_t;

typedef struct {
    endpoint_key_t key;
    address addr; /* for printing; points into key.addr */
    guint64 tx_packets, rx_packets, tx_bytes, rx_bytes;
} endpoint_t;

/* A node of the protocol hierarchy, as `tshark -z io,phs` builds it from the top of each tree. */
typedef struct phs_node {
    int proto;
    const char *abbrev;
    guint64 frames, bytes;
    struct phs_node *child, *sibling;
} phs_node_t;

/* Expert messages as `tshark -z expert` counts them: by severity, protocol and summary. */
typedef struct {
    int severity;
    const char *protocol;
    const char *summary;
} expert_key_t;

typedef struct {
    expert_key_t key; /* owns its strings */
    int group;        /* of the first message with this key, as tshark keeps it */
    guint64 count;
} expert_entry_t;

/* What the taps told about the packet being dissected; only each protocol's first (outer) header. */
typedef struct {
    guint32 num;
    gboolean ip4, ip6, tcp, udp;
    address ip4_src, ip4_dst, ip6_src, ip6_dst;
    guint32 tcp_stream, tcp_sport, tcp_dport, tcp_flags;
    guint32 tcp_seq, tcp_ack; /* raw */
    guint32 udp_stream, udp_sport, udp_dport;
    address tcp_src, tcp_dst, udp_src, udp_dst;
    gboolean tcp_more, udp_more; /* a second TCP (UDP) header: tunnels print two stream numbers */
    /* For the stream index: TCP and UDP headers told, an ICMP error's quoted one included, and the first's stream. */
    guint32 any_tcps, any_udps;
    guint32 any_tcp_stream, any_udp_stream;
} packet_t;

/*
 * The stream index (src/analysis/index/stream-assembly.ts): each frame's TCP and UDP stream as this
 * pass numbers them, written to a file as two little-endian int32 a frame (-1: none), and for each
 * stream its ends and, for TCP, where tshark's base sequence numbers were set: with them the caller
 * maps the streams of a range (numbered from its warm-up) to the whole file's numbering.
 */
typedef struct {
    guint8 lo_addr[16], hi_addr[16];
    int lo_len, hi_len;
    guint32 lo_port, hi_port;
    char *lo, *hi;       /* as endpoint_name prints them */
    guint32 set_at[2];   /* frame whose packet set the base sequence number of direction 0 (from lo), 1; 0: unset */
    guint32 base[2];
    gboolean known;
    gboolean external;   /* its conversation was set up before its first packet, by another dissector */
} stream_info_t;

typedef struct {
    FILE *out;           /* NULL: no index asked for */
    guint32 written;     /* frames written */
    GArray *tcp, *udp;   /* stream_info_t, by stream number */
    GString *syns;       /* "syn" lines: counted SYN-only packets */
    guint64 more;        /* frames with two headers of one kind */
    guint64 shared;      /* frames whose ends differ from their stream's (a conversation with wildcards) */
    guint64 untold;      /* frames with a TCP or UDP layer whose header no tap told (cut short) */
} streams_t;

#define ENDPOINT_CACHE 4096 /* a power of 2 */

/* One time stamp, with the precision of the record it came from. */
typedef struct {
    nstime_t ts;
    int prec;
} stamp_t;

/*
 * What `capinfos` counts, over the records this pass counts, so that a chunked summary need not
 * have capinfos read the whole file again: packets, their bytes (original lengths), the earliest
 * and latest time stamps (the first record to reach each keeps it), whether every record had a
 * time stamp, and packets per interface.
 */
typedef struct {
    guint64 packets;
    guint64 bytes;
    gboolean seen;      /* a record with a time stamp */
    gboolean all_times; /* every record had one */
    stamp_t start, stop;
    GArray *interfaces; /* guint64 packets, by interface ID */
} facts_t;

/*
 * What limits the capture itself, over the counted records (the warm-up's records are compared
 * against but not counted): packets cut by the snapshot length, time stamps earlier than the
 * record before, and records byte-identical to one of the DUP_WINDOW before them (editcap -d's
 * rule, so that `editcap -d` finds the same ones).
 */
#define DUP_WINDOW 4
typedef struct {
    guint64 cut, backwards, duplicates;
    gboolean have_last;
    nstime_t last;
    guint8 *recent[DUP_WINDOW]; /* copies of the last records' bytes */
    guint32 recent_len[DUP_WINDOW];
    guint32 recent_cap[DUP_WINDOW];
    guint next;
} limits_t;

/*
 * The decode-as hints' scan (src/analysis/decode-hints.ts), done here so that no tshark of its own
 * builds every tree of the file's first packets: for the counted packets up to `limit`, the first
 * packet whose payload above TCP or UDP no dissector took, per stream and source port, with its
 * payload's first bytes, and each TCP stream's SYN (which says the server's port), as lines of the
 * scan's fields. Off (limit 0) in every pass but the one that reads the file's start.
 */
#define HINT_STREAMS 4096 /* the scan stops at 2,000; past this many streams nothing more is kept */
#define HINT_BYTES 256    /* the first bytes of a payload that pick a candidate */
typedef struct {
    guint32 limit;
    gboolean past;        /* a counted packet past the limit was seen */
    GString *lines;
    GHashTable *sides;    /* (stream key, source port) whose first payload was kept */
    GHashTable *syns;     /* (stream, destination port) whose SYN was kept */
    GHashTable *streams;  /* stream keys with a payload kept */
    int proto_data;
} hints_t;

typedef struct {
    guint32 warmup;
    hints_t hints;
    limits_t limits;
    int proto_icmp, proto_icmpv6, proto_ip, proto_ipv6, proto_tcp, proto_udp;
    /*
     * Counted packets with an IP, TCP or UDP layer whose tap never came (a header cut short ends
     * the dissector before it taps). A per-packet pass would still see their first fields, so the
     * caller must not trust these results when this is not 0.
     */
    guint64 incomplete;
    packet_t pkt;
    GPtrArray *order;      /* part_t*, in the order their first counted packet came */
    GHashTable *streams;   /* stream_key() -> part_t* */
    GHashTable *pairs;     /* kind and both raw addresses, lower first -> part_t* */
    GHashTable *tuples;    /* tuples that have a part already */
    GHashTable *warm;      /* TCP streams seen in the warm-up */
    GHashTable *endpoints; /* endpoint_key_t -> endpoint_t, in `endpoint_order` */
    endpoint_t *endpoint_cache[ENDPOINT_CACHE]; /* recent lookups, by hash: most packets hit */
    GPtrArray *endpoint_order;
    phs_node_t phs;        /* the root: its children are the first level */
    GHashTable *expert;    /* expert_key_t -> expert_entry_t, in `expert_order` */
    GPtrArray *expert_order;
    gboolean have_first;
    nstime_t first_time;
    facts_t facts;
    streams_t index;
} state_t;

static state_t st;

/* TCP and UDP streams in one table: tshark numbers each protocol's streams from 0. */
static gpointer stream_key(gboolean tcp, guint32 stream)
{
    return GSIZE_TO_POINTER(((gsize)stream << 1 | (tcp ? 0 : 1)) + 1);
}

/* Which of the protocols the counter cares about the packet has as a layer, in one walk. */
typedef struct {
    gboolean icmp, ip, ipv6, tcp, udp;
    guint32 tcps, udps;    /* TCP and UDP layers */
    int last, before_last; /* the packet's last two layers (frame.protocols' end); -1: none */
} layers_t;

static layers_t layers_of(const packet_info *pinfo)
{
    layers_t l = {FALSE, FALSE, FALSE, FALSE, FALSE, 0, 0, -1, -1};
    for (wmem_list_frame_t *f = wmem_list_head(pinfo->layers); f; f = wmem_list_frame_next(f)) {
        const int proto = GPOINTER_TO_INT(wmem_list_frame_data(f));
        l.before_last = l.last;
        l.last = proto;
        if (proto == st.proto_icmp || proto == st.proto_icmpv6) l.icmp = TRUE;
        else if (proto == st.proto_ip) l.ip = TRUE;
        else if (proto == st.proto_ipv6) l.ipv6 = TRUE;
        else if (proto == st.proto_tcp) {
            l.tcp = TRUE;
            l.tcps++;
        } else if (proto == st.proto_udp) {
            l.udp = TRUE;
            l.udps++;
        }
    }
    return l;
}

/* A hash of a zero-padded key of whole 64-bit words: a multiply-xor per word, then a final mix. */
static guint words_hash(const void *key, gsize size)
{
    const guint8 *b = (const guint8 *)key;
    guint64 h = 0x9e3779b97f4a7c15ULL;
    for (gsize i = 0; i + 8 <= size; i += 8) {
        guint64 w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    return (guint)(h ^ (h >> 29));
}

static void packet_reset(guint32 num)
{
    memset(&st.pkt, 0, sizeof st.pkt);
    st.pkt.num = num;
}

static void packet_at(const packet_info *pinfo)
{
    if (st.pkt.num != pinfo->num) packet_reset(pinfo->num);
}

static guint endpoint_hash(gconstpointer k)
{
    G_STATIC_ASSERT(sizeof(endpoint_key_t) % 8 == 0);
    return words_hash(k, sizeof(endpoint_key_t));
}

static gboolean endpoint_equal(gconstpointer x, gconstpointer y)
{
    return memcmp(x, y, sizeof(endpoint_key_t)) == 0;
}

/* Adds one packet to an endpoint, as tshark's endpoint tables do for every header they are told of. */
static void endpoint_add(enum kind kind, const address *addr, guint32 port, gboolean tx, guint32 bytes)
{
    endpoint_key_t key;
    memset(&key, 0, sizeof key);
    key.kind = (guint8)kind;
    key.len = (guint8)MIN(addr->len, 16);
    memcpy(key.addr, addr->data, key.len);
    key.port = port;
    /* Four lookups a TCP packet, mostly of the endpoints of the packets just before it. */
    endpoint_t **cached = &st.endpoint_cache[endpoint_hash(&key) & (ENDPOINT_CACHE - 1)];
    endpoint_t *e = *cached;
    if (e == NULL || !endpoint_equal(&e->key, &key)) {
        e = (endpoint_t *)g_hash_table_lookup(st.endpoints, &key);
        if (e == NULL) {
            e = g_new0(endpoint_t, 1);
            e->key = key;
            set_address(&e->addr, addr->type, e->key.len, e->key.addr);
            g_hash_table_insert(st.endpoints, &e->key, e);
            g_ptr_array_add(st.endpoint_order, e);
        }
        *cached = e;
    }
    if (tx) {
        e->tx_packets++;
        e->tx_bytes += bytes;
    } else {
        e->rx_packets++;
        e->rx_bytes += bytes;
    }
}

static void endpoints_add(enum kind kind, const packet_info *pinfo, const address *src, guint32 sport,
                          const address *dst, guint32 dport)
{
    if (pinfo->num <= st.warmup) return;
    endpoint_add(kind, src, sport, TRUE, pinfo->fd->pkt_len);
    endpoint_add(kind, dst, dport, FALSE, pinfo->fd->pkt_len);
}

/* An IP header of either version: its endpoints count; the packet keeps its first (outer) one. */
static void on_ip_header(enum kind kind, const packet_info *pinfo, const address *src,
                         const address *dst, gboolean *seen, address *first_src, address *first_dst)
{
    packet_at(pinfo);
    endpoints_add(kind, pinfo, src, G_MAXUINT32, dst, G_MAXUINT32);
    if (!*seen) {
        *seen = TRUE;
        copy_address_shallow(first_src, src);
        copy_address_shallow(first_dst, dst);
    }
}

static tap_packet_status on_ip(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                               const void *data, tap_flags_t flags _U_)
{
    const ws_ip4 *ip = (const ws_ip4 *)data;
    on_ip_header(KIND_IPV4, pinfo, &ip->ip_src, &ip->ip_dst, &st.pkt.ip4, &st.pkt.ip4_src, &st.pkt.ip4_dst);
    return TAP_PACKET_DONT_REDRAW;
}

static tap_packet_status on_ipv6(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                 const void *data, tap_flags_t flags _U_)
{
    const ws_ip6 *ip = (const ws_ip6 *)data;
    on_ip_header(KIND_IPV6, pinfo, &ip->ip6_src, &ip->ip6_dst, &st.pkt.ip6, &st.pkt.ip6_src,
                 &st.pkt.ip6_dst);
    return TAP_PACKET_DONT_REDRAW;
}

/*
 * The frame that set up the conversation of a header: the packet itself, or an earlier one where
 * another dissector made it (SDP for RTP, FTP for its data): a new stream on old ports then.
 */
static guint32 setup_of(const packet_info *pinfo, conversation_type type, const address *src, guint32 sport,
                        const address *dst, guint32 dport)
{
    const conversation_t *conv = find_conversation(pinfo->num, src, dst, type, sport, dport, 0);
    return conv ? conv->setup_frame : pinfo->num;
}

static tap_packet_status on_tcp(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                const void *data, tap_flags_t flags _U_)
{
    const struct tcpheader *th = (const struct tcpheader *)data;
    packet_at(pinfo);
    endpoints_add(KIND_TCP, pinfo, &th->ip_src, th->th_sport, &th->ip_dst, th->th_dport);
    if (st.pkt.tcp) st.pkt.tcp_more = TRUE;
    else {
        st.pkt.tcp = TRUE;
        st.pkt.tcp_seq = th->th_rawseq;
        copy_address_shallow(&st.pkt.tcp_src, &th->ip_src);
        copy_address_shallow(&st.pkt.tcp_dst, &th->ip_dst);
        st.pkt.tcp_ack = th->th_rawack;
        st.pkt.tcp_stream = th->th_stream;
        st.pkt.tcp_sport = th->th_sport;
        st.pkt.tcp_dport = th->th_dport;
        st.pkt.tcp_flags = th->th_flags;
    }
    return TAP_PACKET_DONT_REDRAW;
}

static tap_packet_status on_udp(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                const void *data, tap_flags_t flags _U_)
{
    const e_udphdr *uh = (const e_udphdr *)data;
    packet_at(pinfo);
    endpoints_add(KIND_UDP, pinfo, &uh->ip_src, uh->uh_sport, &uh->ip_dst, uh->uh_dport);
    if (st.pkt.udp) st.pkt.udp_more = TRUE;
    else {
        st.pkt.udp = TRUE;
        copy_address_shallow(&st.pkt.udp_src, &uh->ip_src);
        copy_address_shallow(&st.pkt.udp_dst, &uh->ip_dst);
        st.pkt.udp_stream = uh->uh_stream;
        st.pkt.udp_sport = uh->uh_sport;
        st.pkt.udp_dport = uh->uh_dport;
    }
    return TAP_PACKET_DONT_REDRAW;
}

static char *endpoint_name(const address *addr, guint32 port, gboolean v4)
{
    char *text = address_to_str(NULL, addr);
    char *name;
    if (port == G_MAXUINT32) name = g_strdup(text);
    else if (v4) name = g_strdup_printf("%s:%u", text, port);
    else name = g_strdup_printf("[%s]:%u", text, port);
    wmem_free(NULL, text);
    return name;
}

static part_t *part_new(enum kind kind, const address *src, guint32 sport, const address *dst,
                        guint32 dport, const nstime_t *t, gboolean continues, gboolean v4)
{
    part_t *p = g_new0(part_t, 1);
    p->kind = kind;
    p->v4 = v4;
    p->a_len = MIN(src->len, 16);
    memcpy(p->a_addr, src->data, p->a_len);
    p->a_port = sport;
    p->a_text = address_to_str(NULL, src);
    p->a = endpoint_name(src, sport, v4);
    p->b = endpoint_name(dst, dport, v4);
    p->first = *t;
    p->last = *t;
    char *tuple = strcmp(p->a, p->b) < 0 ? g_strdup_printf("%s %s %s", KIND_NAME[kind], p->a, p->b)
                                         : g_strdup_printf("%s %s %s", KIND_NAME[kind], p->b, p->a);
    p->continues = continues && !g_hash_table_contains(st.tuples, tuple);
    g_hash_table_add(st.tuples, tuple);
    g_ptr_array_add(st.order, p);
    return p;
}

static void part_count(part_t *p, const address *src, guint32 sport, guint32 bytes, const nstime_t *t,
                       guint32 iface)
{
    p->ifaces |= iface;
    if (src->len == p->a_len && memcmp(src->data, p->a_addr, p->a_len) == 0 && sport == p->a_port)
        p->frames_a_to_b++;
    else
        p->frames_b_to_a++;
    p->bytes += bytes;
    if (nstime_cmp(&p->last, t) < 0) p->last = *t;
    else if (nstime_cmp(t, &p->first) < 0) p->first = *t;
}

/* The key of an IP pair: its kind and both raw addresses, the lower first. */
typedef struct {
    guint8 bytes[40]; /* kind, both addresses' lengths, each address's bytes; zero-padded */
} pair_key_t;

static void pair_key(pair_key_t *key, gboolean v4, const address *x, const address *y)
{
    const address *lo = x, *hi = y;
    if (cmp_address(x, y) > 0) { lo = y; hi = x; }
    memset(key, 0, sizeof *key);
    const int lo_len = MIN(lo->len, 16), hi_len = MIN(hi->len, 16);
    key->bytes[0] = v4 ? 4 : 6;
    key->bytes[1] = (guint8)(lo_len << 4 | hi_len);
    memcpy(key->bytes + 2, lo->data, lo_len);
    memcpy(key->bytes + 2 + 16, hi->data, hi_len);
}

static guint pair_hash(gconstpointer k)
{
    G_STATIC_ASSERT(sizeof(pair_key_t) % 8 == 0 && sizeof(pair_key_t) >= 2 + 2 * 16);
    return words_hash(k, sizeof(pair_key_t));
}

static gboolean pair_equal(gconstpointer x, gconstpointer y)
{
    return memcmp(x, y, sizeof(pair_key_t)) == 0;
}

static void phs_add(const proto_tree *tree, guint32 bytes)
{
    phs_node_t *level = &st.phs;
    for (proto_node *node = tree->first_child; node; node = node->next) {
        const field_info *fi = PNODE_FINFO(node);
        if (fi == NULL) break;
        phs_node_t **at = &level->child;
        while (*at && (*at)->proto != fi->hfinfo->id) at = &(*at)->sibling;
        if (*at == NULL) {
            *at = g_new0(phs_node_t, 1);
            (*at)->proto = fi->hfinfo->id;
            (*at)->abbrev = fi->hfinfo->abbrev;
        }
        level = *at;
        level->frames++;
        level->bytes += bytes;
    }
}

static void phs_print(const phs_node_t *node, GString *path)
{
    for (; node; node = node->sibling) {
        const gsize len = path->len;
        if (len > 0) g_string_append_c(path, ':');
        g_string_append(path, node->abbrev);
        printf("protocol\t%s\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\n", path->str, node->frames,
               node->bytes);
        phs_print(node->child, path);
        g_string_truncate(path, len);
    }
}

/* Tabs and line ends would break the output's lines. */
static char *one_line(const char *s)
{
    char *copy = g_strdup(s ? s : "");
    for (char *c = copy; *c; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r') *c = ' ';
    return copy;
}

static guint expert_hash(gconstpointer k)
{
    const expert_key_t *key = (const expert_key_t *)k;
    return (g_str_hash(key->summary) * 31u + g_str_hash(key->protocol)) * 31u + (guint)key->severity;
}

static gboolean expert_equal(gconstpointer x, gconstpointer y)
{
    const expert_key_t *a = (const expert_key_t *)x, *b = (const expert_key_t *)y;
    return a->severity == b->severity && strcmp(a->summary, b->summary) == 0 &&
           strcmp(a->protocol, b->protocol) == 0;
}

static tap_packet_status on_expert(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                   const void *data, tap_flags_t flags _U_)
{
    const expert_info_t *ei = (const expert_info_t *)data;
    if (pinfo->num <= st.warmup) return TAP_PACKET_DONT_REDRAW;
    const expert_key_t key = {ei->severity, ei->protocol ? ei->protocol : "",
                              ei->summary ? ei->summary : ""};
    expert_entry_t *e = (expert_entry_t *)g_hash_table_lookup(st.expert, &key);
    if (e == NULL) {
        e = g_new0(expert_entry_t, 1);
        e->key.severity = key.severity;
        e->key.protocol = g_strdup(key.protocol);
        e->key.summary = g_strdup(key.summary);
        e->group = ei->group;
        g_hash_table_insert(st.expert, &e->key, e);
        g_ptr_array_add(st.expert_order, e);
    }
    e->count++;
    return TAP_PACKET_DONT_REDRAW;
}

static const char *severity_name(int severity)
{
    switch (severity) {
    case PI_ERROR: return "error";
    case PI_WARN: return "warning";
    case PI_NOTE: return "note";
    case PI_CHAT: return "chat";
    default: return "comment";
    }
}

/* The bit of a packet's capture interface in part_t's ifaces. */
static guint32 interface_bit(const packet_info *pinfo)
{
    const wtap_rec *rec = pinfo->rec;
    const guint id =
        (rec->presence_flags & WTAP_HAS_INTERFACE_ID) ? rec->rec_header.packet_header.interface_id : 0;
    return 1u << MIN(id, 31u);
}

/* One counted record, as capinfos counts it. */
static void facts_add(const packet_info *pinfo)
{
    const wtap_rec *rec = pinfo->rec;
    facts_t *f = &st.facts;
    if (rec->presence_flags & WTAP_HAS_TS) {
        const stamp_t now = {rec->ts, rec->tsprec};
        if (!f->seen) {
            f->seen = TRUE;
            f->start = f->stop = now;
        } else if (nstime_cmp(&now.ts, &f->start.ts) < 0) {
            f->start = now;
        } else if (nstime_cmp(&now.ts, &f->stop.ts) > 0) {
            f->stop = now;
        }
    } else {
        f->all_times = FALSE;
    }
    if (rec->rec_type != REC_TYPE_PACKET) return;
    f->packets++;
    f->bytes += rec->rec_header.packet_header.len;
    const guint id =
        (rec->presence_flags & WTAP_HAS_INTERFACE_ID) ? rec->rec_header.packet_header.interface_id : 0;
    if (id >= f->interfaces->len) g_array_set_size(f->interfaces, id + 1);
    g_array_index(f->interfaces, guint64, id)++;
}

/* A time stamp as capinfos prints it: local time, with as many decimals as its precision. */
static void print_stamp(const stamp_t *s)
{
    const char *point = localeconv()->decimal_point;
    const time_t secs = s->ts.secs;
    const struct tm *tm = localtime(&secs);
    printf("\t%" G_GINT64_FORMAT "\t%d\t%d\t", (gint64)s->ts.secs, s->ts.nsecs, s->prec);
    if (tm == NULL) {
        printf("Not representable");
        return;
    }
    printf("%04d-%02d-%02d %02d:%02d:%02d", tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tm->tm_hour,
           tm->tm_min, tm->tm_sec);
    switch (s->prec) {
    case WTAP_TSPREC_SEC: break;
    case WTAP_TSPREC_DSEC: printf("%s%01d", point, s->ts.nsecs / 100000000); break;
    case WTAP_TSPREC_CSEC: printf("%s%02d", point, s->ts.nsecs / 10000000); break;
    case WTAP_TSPREC_MSEC: printf("%s%03d", point, s->ts.nsecs / 1000000); break;
    case WTAP_TSPREC_USEC: printf("%s%06d", point, s->ts.nsecs / 1000); break;
    case WTAP_TSPREC_NSEC: printf("%s%09d", point, s->ts.nsecs); break;
    default: break;
    }
}

/* Snapshot-length cuts, time going backwards and duplicates: each record against those before. */
static void limits_add(const packet_info *pinfo, const epan_dissect_t *edt, gboolean counted)
{
    limits_t *l = &st.limits;
    const wtap_rec *rec = pinfo->rec;
    if (rec->rec_type != REC_TYPE_PACKET) return;
    const guint32 caplen = pinfo->fd->cap_len, len = pinfo->fd->pkt_len;
    if (counted && caplen < len) l->cut++;
    if (rec->presence_flags & WTAP_HAS_TS) {
        if (counted && l->have_last && nstime_cmp(&rec->ts, &l->last) < 0) l->backwards++;
        l->last = rec->ts;
        l->have_last = TRUE;
    }
    const guint8 *bytes = edt && edt->tvb && caplen > 0 ? tvb_get_ptr(edt->tvb, 0, caplen) : NULL;
    if (bytes == NULL) return;
    gboolean dup = FALSE;
    for (guint i = 0; i < DUP_WINDOW && !dup; i++)
        dup = l->recent[i] && l->recent_cap[i] == caplen && l->recent_len[i] == len &&
              memcmp(l->recent[i], bytes, caplen) == 0;
    if (counted && dup) l->duplicates++;
    const guint slot = l->next;
    l->next = (l->next + 1) % DUP_WINDOW;
    if (l->recent_cap[slot] < caplen || l->recent[slot] == NULL)
        l->recent[slot] = (guint8 *)g_realloc(l->recent[slot], caplen);
    memcpy(l->recent[slot], bytes, caplen);
    l->recent_cap[slot] = caplen;
    l->recent_len[slot] = len;
}

static stream_info_t *stream_info(GArray *list, guint32 stream)
{
    if (stream >= list->len) g_array_set_size(list, stream + 1);
    return &g_array_index(list, stream_info_t, stream);
}

static gboolean same_end(const guint8 *addr, int len, guint32 port, const address *a, guint32 p)
{
    return len == MIN(a->len, 16) && port == p && memcmp(addr, a->data, len) == 0;
}

/*
 * Which way a packet goes in its stream: 0 from the stream's lower end, 1 from its higher one, -1
 * when its ends are not the stream's (a conversation another dissector made with wildcards).
 */
static int stream_see(stream_info_t *s, const packet_info *pinfo, conversation_type type, const address *src,
                      guint32 sport, const address *dst, guint32 dport)
{
    if (!s->known) {
        /* Looked up at a stream's first packet only: a lookup a packet cost a summary 1-2%. */
        s->external = setup_of(pinfo, type, src, sport, dst, dport) < pinfo->num;
        const int order = cmp_address(src, dst);
        const gboolean src_lo = order < 0 || (order == 0 && sport <= dport);
        const address *lo = src_lo ? src : dst, *hi = src_lo ? dst : src;
        const gboolean v4 = src->type == AT_IPv4;
        s->known = TRUE;
        s->lo_len = MIN(lo->len, 16);
        s->hi_len = MIN(hi->len, 16);
        memcpy(s->lo_addr, lo->data, s->lo_len);
        memcpy(s->hi_addr, hi->data, s->hi_len);
        s->lo_port = src_lo ? sport : dport;
        s->hi_port = src_lo ? dport : sport;
        s->lo = endpoint_name(lo, s->lo_port, v4);
        s->hi = endpoint_name(hi, s->hi_port, v4);
    }
    if (same_end(s->lo_addr, s->lo_len, s->lo_port, src, sport) &&
        same_end(s->hi_addr, s->hi_len, s->hi_port, dst, dport))
        return 0;
    if (same_end(s->hi_addr, s->hi_len, s->hi_port, src, sport) &&
        same_end(s->lo_addr, s->lo_len, s->lo_port, dst, dport))
        return 1;
    return -1;
}

/*
 * One frame of the stream index: its streams, written in frame order (a frame no tap saw has none),
 * and for a counted TCP packet outside an ICMP error, the base sequence numbers tshark sets (the
 * first packet of a direction: its SYN's sequence number, or one less than its own; or one less than
 * the first acknowledgement from the other side) and whether it is a SYN without ACK, the packet
 * that starts a new stream on reused ports when its sequence number is not the base.
 */
/*
 * The TCP and UDP taps again, for the stream index only, with ICMP errors' quoted headers: the first
 * header's stream of each kind is the one a whole-file pass prints (its first tcp.stream and
 * udp.stream), read without the packet's tree having to hold those fields (priming them costs a
 * quarter of the pass). TCP and UDP tap their headers before their payload, so a tunnel's outer one
 * comes first.
 */
static tap_packet_status on_any_tcp(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                    const void *data, tap_flags_t flags _U_)
{
    packet_at(pinfo);
    if (st.pkt.any_tcps++ == 0) st.pkt.any_tcp_stream = ((const struct tcpheader *)data)->th_stream;
    return TAP_PACKET_DONT_REDRAW;
}

static tap_packet_status on_any_udp(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                    const void *data, tap_flags_t flags _U_)
{
    packet_at(pinfo);
    if (st.pkt.any_udps++ == 0) st.pkt.any_udp_stream = ((const e_udphdr *)data)->uh_stream;
    return TAP_PACKET_DONT_REDRAW;
}

static void streams_frame(const packet_info *pinfo, const packet_t *k, const layers_t *l, gboolean counted)
{
    streams_t *s = &st.index;
    if (s->out == NULL || s->written >= pinfo->num) return;
    const gboolean icmp = l->icmp;
    const gint32 none[2] = {-1, -1};
    for (; s->written + 1 < pinfo->num; s->written++) fwrite(none, sizeof none, 1, s->out);
    const gint32 rec[2] = {k->any_tcps ? (gint32)k->any_tcp_stream : -1, k->any_udps ? (gint32)k->any_udp_stream : -1};
    fwrite(rec, sizeof rec, 1, s->out);
    s->written++;
    if (l->tcps > 1 || l->udps > 1 || k->any_tcps > 1 || k->any_udps > 1) s->more++;
    /* A header cut short before its tap: its stream field may be in the tree, unknown here. */
    else if (k->any_tcps < l->tcps || k->any_udps < l->udps) s->untold++;
    if (k->udp && stream_see(stream_info(s->udp, k->udp_stream), pinfo, CONVERSATION_UDP, &k->udp_src,
                             k->udp_sport, &k->udp_dst, k->udp_dport) < 0)
        s->shared++;
    if (!k->tcp) return;
    stream_info_t *i = stream_info(s->tcp, k->tcp_stream);
    const int dir = stream_see(i, pinfo, CONVERSATION_TCP, &k->tcp_src, k->tcp_sport, &k->tcp_dst, k->tcp_dport);
    if (dir < 0) {
        s->shared++;
        return;
    }
    if (!counted || icmp) return;
    const guint32 f = k->tcp_flags;
    if (!i->set_at[dir]) {
        i->base[dir] = (f & SYN) ? k->tcp_seq : k->tcp_seq - 1;
        i->set_at[dir] = pinfo->num;
    }
    if (!i->set_at[1 - dir] && (f & ACK)) {
        i->base[1 - dir] = k->tcp_ack - 1;
        i->set_at[1 - dir] = pinfo->num;
    }
    if ((f & (SYN | ACK)) == SYN)
        g_string_append_printf(s->syns, "syn\t%u\t%d\t%u\n", pinfo->num, dir, k->tcp_seq);
}

static void streams_print(void)
{
    streams_t *s = &st.index;
    if (s->out == NULL) return;
    /* Complete before the end line: the caller reads the file once it has read that. */
    fclose(s->out);
    s->out = NULL;
    for (int tcp = 1; tcp >= 0; tcp--) {
        const GArray *list = tcp ? s->tcp : s->udp;
        for (guint n = 0; n < list->len; n++) {
            const stream_info_t *i = &g_array_index(list, stream_info_t, n);
            if (!i->known) continue;
            printf("stream\t%s\t%u\t%s\t%s\t%u\t%u\t%u\t%u\t%d\n", tcp ? "tcp" : "udp", n, i->lo, i->hi,
                   i->set_at[0], i->base[0], i->set_at[1], i->base[1], i->external ? 1 : 0);
        }
    }
    fputs(s->syns->str, stdout);
    printf("streams\t%u\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\n", s->written,
           s->more, s->shared, s->untold);
}

/* The first "data" protocol of the tree: what data.data's first occurrence holds. */
static const field_info *first_data(const proto_tree *tree)
{
    for (proto_node *node = tree ? tree->first_child : NULL; node; node = node->next) {
        const field_info *fi = PNODE_FINFO(node);
        if (fi && fi->hfinfo->id == st.hints.proto_data) return fi;
    }
    return NULL;
}

/* A line of the scan's fields: frame, protocols' end, tcp.stream, udp.stream, TCP ports, UDP ports, payload. */
static void hint_line(const packet_info *pinfo, const char *protocols, const packet_t *k, const field_info *data)
{
    GString *out = st.hints.lines;
    g_string_append_printf(out, "hint\t%u\t%s\t", pinfo->num, protocols);
    if (k->tcp) g_string_append_printf(out, "%u", k->tcp_stream);
    g_string_append_c(out, '\t');
    if (k->udp) g_string_append_printf(out, "%u", k->udp_stream);
    if (k->tcp) g_string_append_printf(out, "\t%u\t%u", k->tcp_sport, k->tcp_dport);
    else g_string_append(out, "\t\t");
    if (k->udp) g_string_append_printf(out, "\t%u\t%u", k->udp_sport, k->udp_dport);
    else g_string_append(out, "\t\t");
    g_string_append_c(out, '\t');
    if (data && data->ds_tvb && data->length > 0) {
        const gint n = MIN(data->length, HINT_BYTES);
        const guint8 *bytes = tvb_get_ptr(data->ds_tvb, data->start, n);
        for (gint i = 0; i < n; i++) g_string_append_printf(out, "%02x", bytes[i]);
    }
    g_string_append_c(out, '\n');
}

/* Whether `key` is new to `set` (and now in it). */
static gboolean first_in(GHashTable *set, guint64 key)
{
    gpointer k = GSIZE_TO_POINTER((gsize)key + 1);
    if (g_hash_table_contains(set, k)) return FALSE;
    g_hash_table_add(set, k);
    return TRUE;
}

/* One counted packet for the hints' scan: kept when it is the first bare payload of its side, or a SYN. */
static void hints_add(const packet_info *pinfo, const epan_dissect_t *edt, const packet_t *k, const layers_t *l)
{
    hints_t *h = &st.hints;
    if (h->limit == 0 || h->past) return;
    if (pinfo->num > h->limit) {
        h->past = TRUE;
        g_string_append_printf(h->lines, "hint\t%u\n", pinfo->num);
        return;
    }
    /* An ICMP error quotes a header of another packet: not a payload of its own. */
    if (l->icmp || g_hash_table_size(h->streams) > HINT_STREAMS) return;
    const gboolean bare = l->last == h->proto_data && (l->before_last == st.proto_tcp || l->before_last == st.proto_udp);
    if (bare) {
        const gboolean tcp = l->before_last == st.proto_tcp;
        if (tcp ? !k->tcp : !k->udp) return;
        const guint32 stream = tcp ? k->tcp_stream : k->udp_stream;
        const guint32 sport = tcp ? k->tcp_sport : k->udp_sport;
        const guint64 key = GPOINTER_TO_SIZE(stream_key(tcp, stream));
        if (!first_in(h->sides, key << 16 | sport)) return;
        g_hash_table_add(h->streams, GSIZE_TO_POINTER((gsize)key));
        hint_line(pinfo, tcp ? "tcp:data" : "udp:data", k, first_data(edt ? edt->tree : NULL));
    } else if (k->tcp && (k->tcp_flags & (SYN | ACK)) == SYN) {
        if (first_in(h->syns, (guint64)k->tcp_stream << 16 | k->tcp_dport)) hint_line(pinfo, "tcp", k, NULL);
    }
}

static tap_packet_status on_frame(void *tapdata _U_, packet_info *pinfo, epan_dissect_t *edt _U_,
                                  const void *data _U_, tap_flags_t flags _U_)
{
    packet_at(pinfo);
    const packet_t *k = &st.pkt;
    const gboolean counted = pinfo->num > st.warmup;
    const layers_t layers = layers_of(pinfo);
    const gboolean icmp = layers.icmp;
    limits_add(pinfo, edt, counted);
    streams_frame(pinfo, k, &layers, counted);
    if (!counted) {
        if (!icmp && k->tcp) g_hash_table_add(st.warm, stream_key(TRUE, k->tcp_stream));
        return TAP_PACKET_DONT_REDRAW;
    }
    facts_add(pinfo);
    hints_add(pinfo, edt, k, &layers);
    if ((!k->ip4 && layers.ip) || (!k->ip6 && layers.ipv6) ||
        (!icmp && ((!k->tcp && layers.tcp) || (!k->udp && layers.udp))))
        st.incomplete++;
    if (edt && edt->tree) phs_add(edt->tree, pinfo->fd->pkt_len);
    const nstime_t *t = &pinfo->abs_ts;
    if (!st.have_first) {
        st.have_first = TRUE;
        st.first_time = *t;
    }
    const guint32 bytes = pinfo->fd->pkt_len;
    const gboolean v4 = k->ip4;
    if (!k->ip4 && !k->ip6) return TAP_PACKET_DONT_REDRAW;
    const address *src = v4 ? &k->ip4_src : &k->ip6_src;
    const address *dst = v4 ? &k->ip4_dst : &k->ip6_dst;
    if (src->len == 0 || dst->len == 0) return TAP_PACKET_DONT_REDRAW;

    pair_key_t pk;
    pair_key(&pk, v4, src, dst);
    part_t *pair = (part_t *)g_hash_table_lookup(st.pairs, &pk);
    if (pair == NULL) {
        pair = part_new(v4 ? KIND_IPV4 : KIND_IPV6, src, G_MAXUINT32, dst, G_MAXUINT32, t, TRUE, v4);
        g_hash_table_insert(st.pairs, g_memdup2(&pk, sizeof pk), pair);
    }
    const guint32 iface = interface_bit(pinfo);
    part_count(pair, src, G_MAXUINT32, bytes, t, iface);

    /* An ICMP error quotes the TCP or UDP header it is about; it belongs to no stream of its own. */
    if (icmp || (!k->tcp && !k->udp)) return TAP_PACKET_DONT_REDRAW;
    const gboolean tcp = k->tcp;
    const gpointer key = stream_key(tcp, tcp ? k->tcp_stream : k->udp_stream);
    const guint32 sport = tcp ? k->tcp_sport : k->udp_sport;
    part_t *p = (part_t *)g_hash_table_lookup(st.streams, key);
    if (p == NULL) {
        const guint32 dport = tcp ? k->tcp_dport : k->udp_dport;
        gboolean continues = TRUE;
        if (tcp) {
            const gboolean opens = (k->tcp_flags & SYN) != 0 && (k->tcp_flags & ACK) == 0;
            continues = g_hash_table_contains(st.warm, key) || !opens;
        }
        p = part_new(tcp ? KIND_TCP : KIND_UDP, src, sport, dst, dport, t, continues, v4);
        g_hash_table_insert(st.streams, key, p);
    }
    part_count(p, src, sport, bytes, t, iface);
    return TAP_PACKET_DONT_REDRAW;
}

static void on_draw(void *tapdata _U_)
{
    printf("SHARKMCP-SUMMARY 1\n");
    printf("incomplete\t%" G_GUINT64_FORMAT "\n", st.incomplete);
    if (st.have_first)
        printf("first\t%ld.%09d\n", (long)st.first_time.secs, st.first_time.nsecs);
    const facts_t *f = &st.facts;
    printf("facts\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%d", f->packets, f->bytes,
           f->all_times ? 1 : 0);
    if (f->seen) {
        print_stamp(&f->start);
        print_stamp(&f->stop);
    }
    printf("\n");
    printf("limits\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\n", st.limits.cut,
           st.limits.backwards, st.limits.duplicates);
    for (guint i = 0; i < f->interfaces->len; i++) {
        const guint64 n = g_array_index(f->interfaces, guint64, i);
        if (n > 0) printf("interface\t%u\t%" G_GUINT64_FORMAT "\n", i, n);
    }
    for (guint i = 0; i < st.order->len; i++) {
        const part_t *p = (const part_t *)g_ptr_array_index(st.order, i);
        char a_port[16] = "";
        if (p->a_port != G_MAXUINT32) g_snprintf(a_port, sizeof a_port, "%u", p->a_port);
        printf("part\t%s\t%s\t%s\t%s\t%s\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT
               "\t%" G_GUINT64_FORMAT "\t%ld.%09d\t%ld.%09d\t%d\t%u\n",
               KIND_NAME[p->kind], p->a, p->b, p->a_text, a_port, p->frames_a_to_b,
               p->frames_b_to_a, p->bytes, (long)p->first.secs, p->first.nsecs,
               (long)p->last.secs, p->last.nsecs, p->continues ? 1 : 0, p->ifaces);
    }
    for (guint i = 0; i < st.endpoint_order->len; i++) {
        const endpoint_t *e = (const endpoint_t *)g_ptr_array_index(st.endpoint_order, i);
        char *text = address_to_str(NULL, &e->addr);
        char port[16] = "";
        /* As tshark's endpoint table lays it out, read back by parseStatistics: "addr:port". */
        if (e->key.port != G_MAXUINT32) g_snprintf(port, sizeof port, ":%u", e->key.port);
        printf("endpoint\t%s\t%s%s\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT
               "\t%" G_GUINT64_FORMAT "\n",
               KIND_NAME[e->key.kind], text, port, e->tx_packets + e->rx_packets,
               e->tx_bytes + e->rx_bytes, e->tx_bytes, e->rx_bytes);
        wmem_free(NULL, text);
    }
    GString *path = g_string_new("");
    phs_print(st.phs.child, path);
    g_string_free(path, TRUE);
    for (guint i = 0; i < st.expert_order->len; i++) {
        const expert_entry_t *e = (const expert_entry_t *)g_ptr_array_index(st.expert_order, i);
        char *group = val_to_str_wmem(NULL, (guint32)e->group, expert_group_vals, "Unknown (%d)");
        char *protocol = one_line(e->key.protocol), *summary = one_line(e->key.summary);
        printf("expert\t%s\t%s\t%s\t%s\t%" G_GUINT64_FORMAT "\n", severity_name(e->key.severity),
               group, protocol, summary, e->count);
        g_free(protocol);
        g_free(summary);
        wmem_free(NULL, group);
    }
    fputs(st.hints.lines->str, stdout);
    streams_print();
    printf("SHARKMCP-SUMMARY END\n");
    fflush(stdout);
}

static gboolean listen(const char *tap, void *tapdata, guint flags, tap_packet_cb cb, tap_draw_cb draw)
{
    GString *error = register_tap_listener(tap, tapdata, NULL, flags, NULL, cb, draw, NULL);
    if (error == NULL) return TRUE;
    fprintf(stderr, "sharkmcp: cannot listen to the %s tap: %s\n", tap, error->str);
    g_string_free(error, TRUE);
    return FALSE;
}

/*
 * Called from Lua with the warm-up (packets to see but not count), the file to write the frames'
 * streams to ("": none) and the packets the hints' scan reads (0: none) as its arguments.
 */
int sharkmcp_summary_register(void *L)
{
    int isnum = 0;
    double warmup = lua_tonumberx(L, 1, &isnum);
    st.warmup = isnum && warmup > 0 ? (guint32)warmup : 0;
    const char *streams = lua_tolstring(L, 2, NULL);
    const double hint_limit = lua_tonumberx(L, 3, &isnum);
    st.hints.limit = isnum && hint_limit > 0 ? (guint32)hint_limit : 0;
    st.hints.lines = g_string_new("");
    st.hints.sides = g_hash_table_new(g_direct_hash, g_direct_equal);
    st.hints.syns = g_hash_table_new(g_direct_hash, g_direct_equal);
    st.hints.streams = g_hash_table_new(g_direct_hash, g_direct_equal);
    st.hints.proto_data = proto_get_id_by_filter_name("data");
    if (streams && *streams) {
        st.index.out = fopen(streams, "wb");
        if (st.index.out == NULL) fprintf(stderr, "sharkmcp: cannot write %s\n", streams);
    }
    st.index.tcp = g_array_new(FALSE, TRUE, sizeof(stream_info_t));
    st.index.udp = g_array_new(FALSE, TRUE, sizeof(stream_info_t));
    st.index.syns = g_string_new("");
    /* Told before the frame tap, which writes each frame's streams: tshark taps the frame last. */
    static int any_tcp, any_udp;
    if (st.index.out != NULL &&
        !(listen("tcp", &any_tcp, TL_REQUIRES_ERROR_PACKETS, on_any_tcp, NULL) &&
          listen("udp", &any_udp, TL_REQUIRES_ERROR_PACKETS, on_any_udp, NULL))) {
        fclose(st.index.out);
        st.index.out = NULL;
    }
    st.order = g_ptr_array_new();
    st.streams = g_hash_table_new(g_direct_hash, g_direct_equal);
    st.pairs = g_hash_table_new_full(pair_hash, pair_equal, g_free, NULL);
    st.tuples = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    st.warm = g_hash_table_new(g_direct_hash, g_direct_equal);
    st.proto_icmp = proto_get_id_by_filter_name("icmp");
    st.proto_icmpv6 = proto_get_id_by_filter_name("icmpv6");
    st.proto_ip = proto_get_id_by_filter_name("ip");
    st.proto_ipv6 = proto_get_id_by_filter_name("ipv6");
    st.proto_tcp = proto_get_id_by_filter_name("tcp");
    st.proto_udp = proto_get_id_by_filter_name("udp");
    st.endpoints = g_hash_table_new(endpoint_hash, endpoint_equal);
    st.endpoint_order = g_ptr_array_new();
    st.expert = g_hash_table_new(expert_hash, expert_equal);
    st.expert_order = g_ptr_array_new();
    st.facts.all_times = TRUE;
    st.facts.interfaces = g_array_new(FALSE, TRUE, sizeof(guint64));
    packet_reset(0);
    /* A pass where one of these failed prints nothing, so the caller reads it the plain way. */
    if (listen("ip", &st.pkt.ip4, 0, on_ip, NULL) && listen("ipv6", &st.pkt.ip6, 0, on_ipv6, NULL) &&
        listen("tcp", &st.pkt.tcp, 0, on_tcp, NULL) && listen("udp", &st.pkt.udp, 0, on_udp, NULL) &&
        listen("expert", &st.expert, 0, on_expert, NULL))
        /* The frame tap comes last in a packet: where the packet is counted, and the protocol
           hierarchy read off the tree as io,phs does. */
        listen("frame", &st.pkt, TL_REQUIRES_PROTO_TREE, on_frame, on_draw);
    return 0;
}
