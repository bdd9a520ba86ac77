#include "socket.h"

#include <cstring>

#include "errors.h"

#if defined(__linux__)
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/udp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  // linux/udp.h, Linux 4.18
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_GRO
#define UDP_GRO 104  // linux/udp.h, Linux 5.0
#endif
#endif

namespace blipcast {

#if defined(__linux__)

namespace {

// Ancillary space per slot: IPV6_PKTINFO (the larger pktinfo) + the SO_RXQ_OVFL u32 + the UDP_GRO int, with room to spare.
constexpr size_t kControlBytes = 128;

int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : neg_errno();
}

int get_int(int fd, int level, int name) {
  int value = 0;
  socklen_t len = sizeof value;
  return getsockopt(fd, level, name, &value, &len) == 0 ? value : neg_errno();
}

bool has_text(const char* s) { return s != nullptr && s[0] != '\0'; }

// Fills a sockaddr_storage for MCAST_* group_req/group_source_req.
int fill_storage(int family, const char* address, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    return inet_pton(AF_INET, address, &sin->sin_addr) == 1 ? 0 : -EINVAL;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  return inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1 ? 0 : -EINVAL;
}

struct Scratch {
  mmsghdr* msgs;
  iovec* iov;
  uint8_t* control;
};

Scratch scratch_of(RecvRing& ring) {
  uint8_t* base = ring.scratch.data();
  Scratch s;
  s.msgs = reinterpret_cast<mmsghdr*>(base);
  s.iov = reinterpret_cast<iovec*>(base + sizeof(mmsghdr) * ring.slot_count);
  s.control = base + (sizeof(mmsghdr) + sizeof(iovec)) * ring.slot_count;
  return s;
}

// The source address of a datagram, as the 32-bit words a BPF load reads
// (big-endian), and where each word sits relative to the network header:
// saddr at 12 in IPv4, at 8..23 in IPv6. A UDP socket filter sees skb->data at
// the UDP header (source port at offset 0); the IP header is reached through
// SKF_NET_OFF.
struct SourceWords {
  uint32_t words[4];
  int32_t offsets[4];
  int count;
};

SourceWords source_words(int family, const uint8_t* address) {
  SourceWords w{};
  w.count = family == 4 ? 1 : 4;
  for (int i = 0; i < w.count; i++) {
    const uint8_t* b = address + 4 * i;
    w.words[i] = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    w.offsets[i] = SKF_NET_OFF + (family == 4 ? 12 : 8 + 4 * i);
  }
  return w;
}

int attach_classic(int fd, uint16_t port, const SourceWords& w) {
  // A = source port; A = each source word; a mismatch anywhere jumps to "keep".
  sock_filter code[12];
  int n = 0;
  const int keep = 2 + 2 * w.count + 1;  // index of the last instruction
  code[n++] = BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0);
  code[n] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, static_cast<uint8_t>(keep - (n + 1)));
  n++;
  for (int i = 0; i < w.count; i++) {
    code[n++] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(w.offsets[i]));
    code[n] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, w.words[i], 0, static_cast<uint8_t>(keep - (n + 1)));
    n++;
  }
  code[n++] = BPF_STMT(BPF_RET | BPF_K, 0);           // ours: drop
  code[n++] = BPF_STMT(BPF_RET | BPF_K, 0xffffffff);  // keep, whole
  sock_fprog prog{static_cast<unsigned short>(n), code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0 ? 0 : neg_errno();
}

bpf_insn insn(uint8_t op, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = op;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

int sys_bpf(int cmd, bpf_attr* attr) { return static_cast<int>(syscall(__NR_bpf, cmd, attr, sizeof *attr)); }

int attach_counting(int fd, uint16_t port, const SourceWords& w, OwnFilter* out) {
  // The counter: an array map of one u64, mmapped so that reading it costs no syscall (Linux 5.5+).
  bpf_attr map{};
  map.map_type = BPF_MAP_TYPE_ARRAY;
  map.key_size = 4;
  map.value_size = 8;
  map.max_entries = 1;
  map.map_flags = BPF_F_MMAPABLE;
  int map_fd = sys_bpf(BPF_MAP_CREATE, &map);
  if (map_fd < 0) return neg_errno();
  void* counter = mmap(nullptr, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_READ, MAP_SHARED, map_fd, 0);
  if (counter == MAP_FAILED) {
    int rc = neg_errno();
    close(map_fd);
    return rc;
  }
  // r6 = ctx (LD_ABS needs it); r0 = loaded value; r7 = what it must equal.
  // LD_ABS zero-extends, and so does a 32-bit mov, so a 64-bit compare is exact
  // (JMP32 would need Linux 5.1).
  constexpr uint8_t kAtomic = 0xc0;  // BPF_ATOMIC (formerly BPF_XADD); imm BPF_ADD
  bpf_insn code[32];
  int n = 0;
  int to_keep[5];
  int jumps = 0;
  code[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0);
  code[n++] = insn(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 0);
  code[n++] = insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_7, 0, 0, port);
  to_keep[jumps++] = n;
  code[n++] = insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_0, BPF_REG_7, 0, 0);
  for (int i = 0; i < w.count; i++) {
    code[n++] = insn(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, w.offsets[i]);
    code[n++] = insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_7, 0, 0, static_cast<int32_t>(w.words[i]));
    to_keep[jumps++] = n;
    code[n++] = insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_0, BPF_REG_7, 0, 0);
  }
  // Ours: counter[0] += 1, then drop.
  code[n++] = insn(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0);
  code[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
  code[n++] = insn(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4);
  code[n++] = insn(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd);
  code[n++] = insn(0, 0, 0, 0, 0);
  code[n++] = insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
  code[n++] = insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0);
  code[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 1);
  code[n++] = insn(BPF_STX | kAtomic | BPF_DW, BPF_REG_0, BPF_REG_1, 0, BPF_ADD);
  code[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
  code[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  const int keep = n;
  code[n++] = insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1);  // keep, whole (0xffffffff)
  code[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  for (int j = 0; j < jumps; j++) code[to_keep[j]].off = static_cast<int16_t>(keep - (to_keep[j] + 1));

  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  load.insns = reinterpret_cast<uintptr_t>(code);
  load.insn_cnt = static_cast<uint32_t>(n);
  load.license = reinterpret_cast<uintptr_t>("GPL");
  int prog_fd = sys_bpf(BPF_PROG_LOAD, &load);
  int rc = prog_fd >= 0 ? 0 : neg_errno();
  if (rc == 0) {
    // The socket holds its own reference to the program (and through it to the map).
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof prog_fd) != 0) rc = neg_errno();
    close(prog_fd);
  }
  if (rc < 0) {
    munmap(counter, static_cast<size_t>(sysconf(_SC_PAGESIZE)));
    close(map_fd);
    return rc;
  }
  out->map_fd = map_fd;
  out->counter = counter;
  return 0;
}

}  // namespace

int make_endpoint(int family, const char* address, uint16_t port, uint32_t scope_id, Endpoint* out) {
  std::memset(&out->addr, 0, sizeof out->addr);
  if (family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->addr);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    if (inet_pton(AF_INET, address, &sin->sin_addr) != 1) return -EINVAL;
    out->len = sizeof(sockaddr_in);
    return 0;
  }
  if (family == 6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_scope_id = scope_id;
    if (inet_pton(AF_INET6, address, &sin6->sin6_addr) != 1) return -EINVAL;
    out->len = sizeof(sockaddr_in6);
    return 0;
  }
  return -EAFNOSUPPORT;
}

int udp_open(int family) {
  if (family != 4 && family != 6) return -EAFNOSUPPORT;
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  return fd >= 0 ? fd : neg_errno();
}

int udp_close(int fd) { return close(fd) == 0 ? 0 : neg_errno(); }

// SO_REUSEADDR only: it lets every socket of a group port bind and get its own
// copy of each multicast datagram. SO_REUSEPORT would make the kernel pick ONE
// socket of the port for multicast arriving from another host (a lab test,
// test/shared-port-lab.test.ts, shows it), starving the other groups.
int udp_set_reuse(int fd) { return set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1); }

int udp_set_v6only(int fd) { return set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1); }

int udp_bind(int fd, const Endpoint& local) {
  return bind(fd, reinterpret_cast<const sockaddr*>(&local.addr), local.len) == 0 ? 0 : neg_errno();
}

int udp_local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return neg_errno();
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return -EAFNOSUPPORT;
}

int udp_set_multicast_all(int fd, int family, bool on) {
  if (family == 4) return set_int(fd, IPPROTO_IP, IP_MULTICAST_ALL, on ? 1 : 0);
#ifdef IPV6_MULTICAST_ALL
  return set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, on ? 1 : 0);
#else
  return -ENOPROTOOPT;
#endif
}

int udp_set_multicast_interface(int fd, int family, const char* if_address, uint32_t ifindex) {
  if (family == 4) {
    // With both set, the index picks the device and the address becomes the
    // source address of what is sent (lo's 127.0.0.1 is otherwise skipped for
    // being host-scoped, and another interface's address would be used).
    ip_mreqn mreq{};
    mreq.imr_ifindex = static_cast<int>(ifindex);
    if (has_text(if_address) && inet_pton(AF_INET, if_address, &mreq.imr_address) != 1) return -EINVAL;
    return setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq, sizeof mreq) == 0 ? 0 : neg_errno();
  }
  return set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(ifindex));
}

int udp_set_multicast_ttl(int fd, int family, int ttl) {
  if (ttl < 0 || ttl > 255) return -EINVAL;
  return family == 4 ? set_int(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl)
                     : set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
}

int udp_set_multicast_loop(int fd, int family, bool on) {
  return family == 4 ? set_int(fd, IPPROTO_IP, IP_MULTICAST_LOOP, on ? 1 : 0)
                     : set_int(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on ? 1 : 0);
}

int udp_membership(int fd, int family, bool join, const char* group, const char* source, const char* if_address,
                   uint32_t ifindex) {
  if (family == 4 && !has_text(source)) {
    // ip_mreqn takes the interface by index or by address: the two ways users name it.
    ip_mreqn mreq{};
    if (inet_pton(AF_INET, group, &mreq.imr_multiaddr) != 1) return -EINVAL;
    mreq.imr_ifindex = static_cast<int>(ifindex);
    if (has_text(if_address) && inet_pton(AF_INET, if_address, &mreq.imr_address) != 1) return -EINVAL;
    int opt = join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP;
    return setsockopt(fd, IPPROTO_IP, opt, &mreq, sizeof mreq) == 0 ? 0 : neg_errno();
  }
  if (family == 4 && ifindex == 0) {
    // Source-specific by interface address: the only form ip_mreq_source has.
    ip_mreq_source mreq{};
    if (inet_pton(AF_INET, group, &mreq.imr_multiaddr) != 1) return -EINVAL;
    if (inet_pton(AF_INET, source, &mreq.imr_sourceaddr) != 1) return -EINVAL;
    if (has_text(if_address) && inet_pton(AF_INET, if_address, &mreq.imr_interface) != 1) return -EINVAL;
    int opt = join ? IP_ADD_SOURCE_MEMBERSHIP : IP_DROP_SOURCE_MEMBERSHIP;
    return setsockopt(fd, IPPROTO_IP, opt, &mreq, sizeof mreq) == 0 ? 0 : neg_errno();
  }
  // Everything else (IPv6, or IPv4 SSM by index) through the protocol-independent API.
  const int level = family == 4 ? IPPROTO_IP : IPPROTO_IPV6;
  if (!has_text(source)) {
    group_req req{};
    req.gr_interface = ifindex;
    if (fill_storage(family, group, &req.gr_group) != 0) return -EINVAL;
    int opt = join ? MCAST_JOIN_GROUP : MCAST_LEAVE_GROUP;
    return setsockopt(fd, level, opt, &req, sizeof req) == 0 ? 0 : neg_errno();
  }
  group_source_req req{};
  req.gsr_interface = ifindex;
  if (fill_storage(family, group, &req.gsr_group) != 0) return -EINVAL;
  if (fill_storage(family, source, &req.gsr_source) != 0) return -EINVAL;
  int opt = join ? MCAST_JOIN_SOURCE_GROUP : MCAST_LEAVE_SOURCE_GROUP;
  return setsockopt(fd, level, opt, &req, sizeof req) == 0 ? 0 : neg_errno();
}

int udp_set_buffer_size(int fd, bool recv, int bytes) {
  if (bytes <= 0) return -EINVAL;
  // The FORCE variants need CAP_NET_ADMIN and ignore net.core.[rw]mem_max.
  if (set_int(fd, SOL_SOCKET, recv ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, bytes) == 0) return 0;
  return set_int(fd, SOL_SOCKET, recv ? SO_RCVBUF : SO_SNDBUF, bytes);
}

int udp_get_buffer_size(int fd, bool recv) { return get_int(fd, SOL_SOCKET, recv ? SO_RCVBUF : SO_SNDBUF); }

int udp_enable_drop_counter(int fd) { return set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1); }

int udp_enable_packet_info(int fd, int family) {
  return family == 4 ? set_int(fd, IPPROTO_IP, IP_PKTINFO, 1) : set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
}

int udp_enable_gro(int fd) { return set_int(fd, SOL_UDP, UDP_GRO, 1); }

int udp_connect(int fd, const Endpoint& to) {
  return connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.len) == 0 ? 0 : neg_errno();
}

int udp_local_address(int fd, char* out, size_t size) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return neg_errno();
  const void* addr;
  if (ss.ss_family == AF_INET) {
    addr = &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr;
  } else if (ss.ss_family == AF_INET6) {
    addr = &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
  } else {
    return -EAFNOSUPPORT;
  }
  return inet_ntop(ss.ss_family, addr, out, static_cast<socklen_t>(size)) != nullptr ? 0 : neg_errno();
}

int udp_attach_own_filter(int fd, int family, uint16_t port, const char* address, OwnFilterKind kind,
                          OwnFilter* out) {
  uint8_t bytes[16];
  if (family != 4 && family != 6) return -EAFNOSUPPORT;
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, address, bytes) != 1) return -EINVAL;
  const SourceWords w = source_words(family, bytes);
  if (kind == OwnFilterKind::kClassic) return attach_classic(fd, port, w);
  return attach_counting(fd, port, w, out);
}

int64_t own_filter_dropped(const OwnFilter& filter) {
  if (filter.counter == nullptr) return -1;
  // The kernel adds to it atomically on other CPUs; a relaxed atomic load is all the reader needs.
  return static_cast<int64_t>(__atomic_load_n(static_cast<const uint64_t*>(filter.counter), __ATOMIC_RELAXED));
}

void own_filter_release(OwnFilter& filter) {
  if (filter.counter != nullptr) munmap(filter.counter, static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  if (filter.map_fd >= 0) close(filter.map_fd);
  filter = OwnFilter{};
}

void recv_ring_prepare(RecvRing& ring) {
  const size_t n = ring.slot_count;
  ring.scratch.assign((sizeof(mmsghdr) + sizeof(iovec) + kControlBytes) * n, 0);
  Scratch s = scratch_of(ring);
  for (size_t i = 0; i < n; i++) {
    s.iov[i].iov_base = ring.data + i * ring.slot_bytes;
    s.iov[i].iov_len = ring.slot_bytes;
    msghdr& h = s.msgs[i].msg_hdr;
    h.msg_iov = &s.iov[i];
    h.msg_iovlen = 1;
  }
}

int udp_recv_batch(int fd, RecvRing& ring, uint32_t* offsets, uint32_t* lengths, uint32_t* flags, RecvResult* result) {
  *result = RecvResult{};
  Scratch s = scratch_of(ring);
  const uint32_t n = ring.slot_count;
  for (uint32_t i = 0; i < n; i++) {
    // The kernel overwrites these lengths, so they are reset before every call.
    msghdr& h = s.msgs[i].msg_hdr;
    h.msg_name = ring.addrs + static_cast<size_t>(i) * kAddrSlotBytes + kAddrSourceOffset;
    h.msg_namelen = kAddrSourceBytes;
    h.msg_control = s.control + static_cast<size_t>(i) * kControlBytes;
    h.msg_controllen = kControlBytes;
    h.msg_flags = 0;
    s.msgs[i].msg_len = 0;
  }
  int got;
  do {
    got = recvmmsg(fd, s.msgs, n, MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return neg_errno();
  result->received = static_cast<uint32_t>(got);
  uint32_t j = 0;
  for (uint32_t i = 0; i < static_cast<uint32_t>(got); i++) {
    msghdr& h = s.msgs[i].msg_hdr;
    uint8_t* slot_addr = ring.addrs + static_cast<size_t>(i) * kAddrSlotBytes;
    uint32_t f = 0;
    uint32_t segment = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int size;
        std::memcpy(&size, CMSG_DATA(c), sizeof size);
        if (size > 0) segment = static_cast<uint32_t>(size);
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops;
        std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
        result->drops = drops;
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        std::memcpy(slot_addr + kAddrDestinationOffset, &info.ipi_addr, 4);  // header destination, i.e. the group
        f |= kFlagHasDestination;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        std::memcpy(slot_addr + kAddrDestinationOffset, &info.ipi6_addr, 16);
        f |= kFlagHasDestination;
      }
    }
    if (h.msg_flags & MSG_TRUNC) {
      result->truncated++;
      continue;
    }
    if (h.msg_flags & MSG_CTRUNC) f |= kFlagControlTruncated;
    const uint32_t start = static_cast<uint32_t>(i * ring.slot_bytes);
    const uint32_t len = s.msgs[i].msg_len;
    // UDP_GRO: the kernel handed over a run of datagrams from one source as one, each `segment` bytes but the last.
    const uint32_t step = segment > 0 && segment < len ? segment : (len > 0 ? len : 1);
    uint32_t at = 0;
    do {
      if (j >= ring.entry_capacity) {
        result->truncated++;  // cannot happen with entry_capacity = slots * kMaxGroSegments; counted, never written past
        break;
      }
      offsets[j] = start + at;
      lengths[j] = std::min(step, len - at);
      flags[j] = f;
      j++;
      at += step;
    } while (at < len);
  }
  result->delivered = j;
  return 0;
}

int udp_send_chunk(int fd, const Endpoint& to, const SendItem* items, uint32_t count, bool segment) {
  if (count > kSendChunk) count = kSendChunk;
  mmsghdr msgs[kSendChunk];
  iovec iov[kSendChunk];
  // One UDP_SEGMENT control message per GSO message (at most one per item).
  union Control {
    cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(uint16_t))];
  };
  Control control[kSendChunk];
  // first_item[m] = index of the first item of message m; first_item[messages] = count.
  uint32_t first_item[kSendChunk + 1];
  uint32_t messages = 0;
  std::memset(msgs, 0, sizeof(mmsghdr) * count);
  for (uint32_t i = 0; i < count; i++) {
    iov[i].iov_base = const_cast<uint8_t*>(items[i].data);
    iov[i].iov_len = items[i].size;
  }
  uint32_t i = 0;
  while (i < count) {
    const size_t seg = items[i].size;
    uint32_t run = 1;
    size_t bytes = seg;
    if (segment) {
      while (i + run < count && run < kMaxGsoSegments && items[i + run].size <= seg && items[i + run].size > 0 &&
             bytes + items[i + run].size <= kMaxGsoBytes) {
        bytes += items[i + run].size;
        run++;
        if (items[i + run - 1].size < seg) break;  // only the last segment may be shorter
      }
    }
    msghdr& h = msgs[messages].msg_hdr;
    h.msg_name = const_cast<SockAddrStorage*>(&to.addr);
    h.msg_namelen = to.len;
    h.msg_iov = &iov[i];
    h.msg_iovlen = run;
    if (run > 1) {
      h.msg_control = control[messages].bytes;
      h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t gso_size = static_cast<uint16_t>(seg);
      std::memcpy(CMSG_DATA(c), &gso_size, sizeof gso_size);
    }
    first_item[messages++] = i;
    i += run;
  }
  first_item[messages] = count;
  int r;
  do {
    r = sendmmsg(fd, msgs, messages, MSG_DONTWAIT);
  } while (r < 0 && errno == EINTR);
  return r >= 0 ? static_cast<int>(first_item[r]) : neg_errno();
}

bool is_segmentation_refusal(int rc) {
  return rc == -EIO || rc == -EINVAL || rc == -ENOPROTOOPT || rc == -EOPNOTSUPP;
}

#else  // !__linux__: the addon compiles, and says "unsupported" at run time.

int make_endpoint(int, const char*, uint16_t, uint32_t, Endpoint*) { return -ENOSYS; }
int udp_open(int) { return -ENOSYS; }
int udp_close(int) { return -ENOSYS; }
int udp_set_reuse(int) { return -ENOSYS; }
int udp_set_v6only(int) { return -ENOSYS; }
int udp_bind(int, const Endpoint&) { return -ENOSYS; }
int udp_local_port(int) { return -ENOSYS; }
int udp_set_multicast_all(int, int, bool) { return -ENOSYS; }
int udp_set_multicast_interface(int, int, const char*, uint32_t) { return -ENOSYS; }
int udp_set_multicast_ttl(int, int, int) { return -ENOSYS; }
int udp_set_multicast_loop(int, int, bool) { return -ENOSYS; }
int udp_membership(int, int, bool, const char*, const char*, const char*, uint32_t) { return -ENOSYS; }
int udp_set_buffer_size(int, bool, int) { return -ENOSYS; }
int udp_get_buffer_size(int, bool) { return -ENOSYS; }
int udp_enable_drop_counter(int) { return -ENOSYS; }
int udp_enable_packet_info(int, int) { return -ENOSYS; }
int udp_enable_gro(int) { return -ENOSYS; }
int udp_connect(int, const Endpoint&) { return -ENOSYS; }
int udp_local_address(int, char*, size_t) { return -ENOSYS; }
int udp_attach_own_filter(int, int, uint16_t, const char*, OwnFilterKind, OwnFilter*) { return -ENOSYS; }
int64_t own_filter_dropped(const OwnFilter&) { return -1; }
void own_filter_release(OwnFilter& filter) { filter = OwnFilter{}; }
void recv_ring_prepare(RecvRing&) {}
int udp_recv_batch(int, RecvRing&, uint32_t*, uint32_t*, uint32_t*, RecvResult*) { return -ENOSYS; }
int udp_send_chunk(int, const Endpoint&, const SendItem*, uint32_t, bool) { return -ENOSYS; }
bool is_segmentation_refusal(int) { return false; }

#endif

}  // namespace blipcast
