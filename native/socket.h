// Platform layer of the UDP multicast socket: plain functions over a file
// descriptor, no Node-API, no state beyond what the caller passes in. Each
// returns a non-negative value on success or -errno (errors.h); on platforms
// other than Linux every function returns -ENOSYS.
#ifndef BLIPCAST_NATIVE_SOCKET_H
#define BLIPCAST_NATIVE_SOCKET_H

#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__linux__)
#include <netinet/in.h>
#include <sys/socket.h>
#endif

namespace blipcast {

#if defined(__linux__)
using SockAddrStorage = sockaddr_storage;
using SockLen = socklen_t;
#else
struct SockAddrStorage {
  unsigned char bytes[128];
};
using SockLen = unsigned int;
#endif

// A socket address prepared once (bind address, send destination).
struct Endpoint {
  SockAddrStorage addr{};
  SockLen len = 0;
};

// Layout of the per-slot address area the caller provides for receiving:
// [0, 28) the raw source sockaddr (sockaddr_in or sockaddr_in6, as the kernel
// wrote it), [32, 48) the destination address from IP_PKTINFO /
// IPV6_PKTINFO (4 bytes for IPv4, 16 for IPv6).
constexpr size_t kAddrSlotBytes = 48;
constexpr size_t kAddrSourceOffset = 0;
constexpr size_t kAddrSourceBytes = 28;
constexpr size_t kAddrDestinationOffset = 32;

// Per-datagram flags written by udp_recv_batch.
constexpr uint32_t kFlagHasDestination = 1;   // the destination bytes are valid
constexpr uint32_t kFlagControlTruncated = 2;  // MSG_CTRUNC: ancillary data was cut

// Parses a numeric address of `family` (4 or 6) with port and IPv6 scope id.
// Returns 0 or -EINVAL.
int make_endpoint(int family, const char* address, uint16_t port, uint32_t scope_id, Endpoint* out);

int udp_open(int family);  // non-blocking, close-on-exec; returns the fd
int udp_close(int fd);
int udp_set_reuse(int fd);  // SO_REUSEADDR (not SO_REUSEPORT: see socket.cc)
int udp_set_v6only(int fd);
int udp_bind(int fd, const Endpoint& local);
int udp_local_port(int fd);
int udp_set_multicast_all(int fd, int family, bool on);
// The interface to send multicast on: by index when ifindex > 0, else (IPv4)
// by address; an empty address and index 0 mean the system default. For IPv4
// a given address is also the source address of what is sent.
int udp_set_multicast_interface(int fd, int family, const char* if_address, uint32_t ifindex);
int udp_set_multicast_ttl(int fd, int family, int ttl);
int udp_set_multicast_loop(int fd, int family, bool on);
// Joins (join = true) or leaves a group, any-source when source is empty, else
// source-specific. The interface is given as for udp_set_multicast_interface.
int udp_membership(int fd, int family, bool join, const char* group, const char* source, const char* if_address,
                   uint32_t ifindex);
// Sets SO_RCVBUF (recv = true) or SO_SNDBUF. Tries the *FORCE variant first
// (root may exceed net.core.rmem_max), falls back to the plain option.
int udp_set_buffer_size(int fd, bool recv, int bytes);
int udp_get_buffer_size(int fd, bool recv);  // what the kernel granted (Linux doubles the request)
int udp_enable_drop_counter(int fd);          // SO_RXQ_OVFL
int udp_enable_packet_info(int fd, int family);  // IP_PKTINFO / IPV6_RECVPKTINFO

// Connects the socket to `to` (the send socket, to the group): the kernel then
// picks the source address once, and udp_local_address reports it.
int udp_connect(int fd, const Endpoint& to);
// The bound local address as text (INET6_ADDRSTRLEN fits it) into `out`;
// returns 0. After udp_connect it is the source address of what the socket sends.
int udp_local_address(int fd, char* out, size_t size);

// A socket filter on the receive socket that drops, in the kernel, the
// datagrams this transport's own send socket sent (multicast loopback would
// otherwise queue every one of them). Filtered datagrams still count in the
// socket's SO_RXQ_OVFL counter (the kernel's drop path is shared), so the
// counting kind also counts them, for the caller to subtract.
enum class OwnFilterKind {
  kCounting,  // eBPF with a counter map; needs CAP_BPF (or root) where unprivileged BPF is disabled
  kClassic,   // classic BPF, allowed to anyone; counts nothing
};

// What an attached counting filter leaves to release: the map and its mapping.
struct OwnFilter {
  int map_fd = -1;
  void* counter = nullptr;  // the map's one u64 value, mmapped read-only
};

// Attaches the filter to `fd`, a receive socket of `family` (4 or 6): drop when
// the UDP source port is `port` and the IP source address is `address` (a
// numeric address of `family`), keep everything else. Replaces a filter
// attached before. Returns 0 (then `out` holds what own_filter_release frees)
// or -errno.
int udp_attach_own_filter(int fd, int family, uint16_t port, const char* address, OwnFilterKind kind,
                          OwnFilter* out);
// How many datagrams the counting filter has dropped, or -1 without a counter.
int64_t own_filter_dropped(const OwnFilter& filter);
void own_filter_release(OwnFilter& filter);

// Caller-owned receive memory and the scratch that recvmmsg needs.
struct RecvRing {
  uint8_t* data = nullptr;   // slot_count * slot_bytes
  size_t slot_bytes = 0;
  uint32_t slot_count = 0;
  uint8_t* addrs = nullptr;  // slot_count * kAddrSlotBytes
  uint32_t entry_capacity = 0;  // entries of offsets/lengths/flags (more than slots with UDP_GRO: a slot can hold a run)
  std::vector<uint8_t> scratch;  // mmsghdr + iovec + control per slot (platform-sized)
};

// Sizes ring.scratch for ring.slot_count slots and points every message at its slot.
void recv_ring_prepare(RecvRing& ring);

struct RecvResult {
  uint32_t delivered = 0;  // datagrams written to offsets/lengths/flags
  uint32_t truncated = 0;  // datagrams longer than a slot, dropped
  int64_t drops = -1;      // last SO_RXQ_OVFL counter seen in the batch, or -1
  uint32_t received = 0;   // what recvmmsg returned (delivered + truncated)
};

// Most datagrams the kernel coalesces into one with UDP_GRO (UDP_MAX_SEGMENTS).
constexpr uint32_t kMaxGroSegments = 128;

// UDP_GRO on: the kernel may deliver a run of equal-size datagrams from one
// source as one (the sender's GSO run, kept whole across veth and bridges),
// with the segment size as ancillary data; udp_recv_batch splits it again.
int udp_enable_gro(int fd);

// One recvmmsg(MSG_DONTWAIT) over the whole ring. Delivered datagram j is
// data[offsets[j], offsets[j] + lengths[j]) and came into slot offsets[j] / slot_bytes
// (with UDP_GRO a slot can hold several, up to ring.entry_capacity in all).
// Returns 0 (see result), -EAGAIN when nothing was queued, or another -errno.
int udp_recv_batch(int fd, RecvRing& ring, uint32_t* offsets, uint32_t* lengths, uint32_t* flags, RecvResult* result);

struct SendItem {
  const uint8_t* data;
  size_t size;
};

// One sendmmsg of at most kSendChunk items. Returns how many items the kernel
// took (possibly fewer) or -errno when it took none (EAGAIN included).
//
// With `segment` (UDP GSO, Linux ≥ 4.18), each run of consecutive items of one
// size (the run's last item may be shorter) goes as ONE message with a
// UDP_SEGMENT control message: the kernel walks the stack once for the run and
// cuts it into the same datagrams at the device (or in the NIC). The datagrams
// on the wire are identical to sending the items one by one. A kernel or route
// that cannot segment answers the first message with EIO/EINVAL/ENOPROTOOPT/
// EOPNOTSUPP (see is_segmentation_refusal); the caller then resends without.
constexpr uint32_t kSendChunk = 64;
// Segments per GSO message: UDP_MAX_SEGMENTS of Linux 4.18–5.x (128 since 6.x).
constexpr uint32_t kMaxGsoSegments = 64;
// Bytes per GSO message: the UDP payload of one skb must stay below 64 KiB with headers.
constexpr size_t kMaxGsoBytes = 65000;
int udp_send_chunk(int fd, const Endpoint& to, const SendItem* items, uint32_t count, bool segment);
// Whether -errno from a segmented send means "this socket cannot segment" (try again without).
bool is_segmentation_refusal(int rc);

}  // namespace blipcast

#endif
