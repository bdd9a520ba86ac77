#include "udp_socket.h"

#include <algorithm>
#include <string>

#include "typed.h"

namespace blipcast {
namespace {

// recvmmsg batches per poll wake-up: enough to drain a burst, bounded so that
// one busy socket cannot starve the rest of the event loop.
constexpr int kMaxBatchesPerWake = 16;
// The largest ring the receive path accepts (slots per recvmmsg; UIO_MAXIOV is 1024).
constexpr int64_t kMaxSlots = 1024;

std::string string_arg(const Napi::Value& value) {
  return value.IsString() ? value.As<Napi::String>().Utf8Value() : std::string();
}

bool bool_arg(const Napi::Value& value) { return value.IsBoolean() && value.As<Napi::Boolean>().Value(); }

Napi::Value code(Napi::Env env, int rc) { return Napi::Number::New(env, rc); }

// Calls a JS callback from a libuv callback. Only raw N-API on the way out:
// while this thread's environment is torn down (a worker terminated, or
// process.exit() from another thread, say inside this very callback) V8 runs
// no more JS, and node-addon-api's error path would abort the process because
// it cannot create an Error. An exception the callback threw becomes an
// uncaught exception, the way Node treats a throwing event listener. Returns
// false when the callback did not return normally: the caller stops there.
bool call_js(napi_env env, napi_async_context context, napi_value recv, napi_value fn, std::initializer_list<napi_value> args) {
  napi_value result;
  if (napi_make_callback(env, context, recv, fn, args.size(), args.begin(), &result) == napi_ok) return true;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return false;
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) return false;
  napi_valuetype type;
  // A terminating thread leaves no exception value to report (undefined): nothing to surface.
  if (napi_typeof(env, error, &type) != napi_ok || type == napi_undefined) return false;
  napi_fatal_exception(env, error);
  return false;
}

napi_value number(napi_env env, double value) {
  napi_value n = nullptr;
  napi_create_double(env, value, &n);
  return n;
}

}  // namespace

Napi::Function UdpSocket::Define(Napi::Env env) {
  return DefineClass(env, "UdpSocket",
                     {
                         InstanceMethod<&UdpSocket::Open>("open"),
                         InstanceMethod<&UdpSocket::SetReuse>("setReuse"),
                         InstanceMethod<&UdpSocket::SetV6Only>("setV6Only"),
                         InstanceMethod<&UdpSocket::Bind>("bind"),
                         InstanceMethod<&UdpSocket::LocalPort>("localPort"),
                         InstanceMethod<&UdpSocket::SetMulticastAll>("setMulticastAll"),
                         InstanceMethod<&UdpSocket::SetMulticastInterface>("setMulticastInterface"),
                         InstanceMethod<&UdpSocket::SetMulticastTtl>("setMulticastTtl"),
                         InstanceMethod<&UdpSocket::SetMulticastLoop>("setMulticastLoop"),
                         InstanceMethod<&UdpSocket::AddMembership>("addMembership"),
                         InstanceMethod<&UdpSocket::SetRecvBufferSize>("setRecvBufferSize"),
                         InstanceMethod<&UdpSocket::GetRecvBufferSize>("getRecvBufferSize"),
                         InstanceMethod<&UdpSocket::SetSendBufferSize>("setSendBufferSize"),
                         InstanceMethod<&UdpSocket::GetSendBufferSize>("getSendBufferSize"),
                         InstanceMethod<&UdpSocket::EnableDropCounter>("enableDropCounter"),
                         InstanceMethod<&UdpSocket::EnablePacketInfo>("enablePacketInfo"),
                         InstanceMethod<&UdpSocket::EnableGro>("enableGro"),
                         InstanceMethod<&UdpSocket::SetDestination>("setDestination"),
                         InstanceMethod<&UdpSocket::Connect>("connect"),
                         InstanceMethod<&UdpSocket::LocalAddress>("localAddress"),
                         InstanceMethod<&UdpSocket::AttachOwnFilter>("attachOwnFilter"),
                         InstanceMethod<&UdpSocket::SendBatch>("sendBatch"),
                         InstanceMethod<&UdpSocket::SetSegmentation>("setSegmentation"),
                         InstanceMethod<&UdpSocket::Segmentation>("segmentation"),
                         InstanceMethod<&UdpSocket::StartReceiving>("startReceiving"),
                         InstanceMethod<&UdpSocket::Close>("close"),
                     });
}

UdpSocket::UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info), env_(info.Env()) {}

UdpSocket::~UdpSocket() {
  // Normally close() has run and FinishClose released everything. This path is
  // environment teardown, where the wrapper can be finalized before libuv's
  // close callback: detach from the handle so that callback does not touch us.
  if (poll_ != nullptr) {
    poll_->owner = nullptr;
    if (!closing_) {
      uv_poll_stop(&poll_->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_->poll), OnPollClosed);
    }
    poll_ = nullptr;
  }
  if (fd_ >= 0) udp_close(fd_);
  fd_ = -1;
  own_filter_release(own_filter_);
}

bool UdpSocket::CheckOpen(const Napi::CallbackInfo&) { return fd_ >= 0 && !closing_; }

Napi::Value UdpSocket::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ >= 0 || closing_) return code(env, -EALREADY);
  const int family = static_cast<int>(int_arg(info[0], 7, 0));
  int fd = udp_open(family);
  if (fd < 0) return code(env, fd);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    udp_close(fd);
    return code(env, -ENOSYS);
  }
  auto* handle = new PollHandle{};
  handle->owner = this;
  int rc = uv_poll_init(loop, &handle->poll, fd);  // libuv errors are -errno on Unix
  if (rc != 0) {
    delete handle;
    udp_close(fd);
    return code(env, rc);
  }
  fd_ = fd;
  family_ = family;
  poll_ = handle;
  // An open socket stays alive without a JS reference, like a Node handle:
  // released in FinishClose.
  Ref();
  if (napi_add_async_cleanup_hook(env, OnAsyncCleanup, this, &cleanup_hook_) != napi_ok) cleanup_hook_ = nullptr;
  return code(env, 0);
}

Napi::Value UdpSocket::SetReuse(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_reuse(fd_));
}

Napi::Value UdpSocket::SetV6Only(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_v6only(fd_));
}

Napi::Value UdpSocket::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  Endpoint local;
  int rc = make_endpoint(family_, string_arg(info[0]).c_str(), static_cast<uint16_t>(int_arg(info[1], 65536, 0)),
                         static_cast<uint32_t>(int_arg(info[2], 0x100000000LL, 0)), &local);
  if (rc < 0) return code(env, rc);
  return code(env, udp_bind(fd_, local));
}

Napi::Value UdpSocket::LocalPort(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_local_port(fd_));
}

Napi::Value UdpSocket::SetMulticastAll(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_multicast_all(fd_, family_, bool_arg(info[0])));
}

Napi::Value UdpSocket::SetMulticastInterface(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_multicast_interface(fd_, family_, string_arg(info[0]).c_str(),
                                                      static_cast<uint32_t>(int_arg(info[1], 0x100000000LL, 0))));
}

Napi::Value UdpSocket::SetMulticastTtl(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_multicast_ttl(fd_, family_, static_cast<int>(int_arg(info[0], 256, -1))));
}

Napi::Value UdpSocket::SetMulticastLoop(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_multicast_loop(fd_, family_, bool_arg(info[0])));
}

// (group, source, ifAddress, ifIndex); source '' for any-source. Leaving is closing the socket.
Napi::Value UdpSocket::AddMembership(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_membership(fd_, family_, true, string_arg(info[0]).c_str(), string_arg(info[1]).c_str(),
                                         string_arg(info[2]).c_str(),
                                         static_cast<uint32_t>(int_arg(info[3], 0x100000000LL, 0))));
}

Napi::Value UdpSocket::SetRecvBufferSize(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_buffer_size(fd_, true, static_cast<int>(int_arg(info[0], 0x80000000LL, 0))));
}

Napi::Value UdpSocket::GetRecvBufferSize(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_get_buffer_size(fd_, true));
}

Napi::Value UdpSocket::SetSendBufferSize(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_set_buffer_size(fd_, false, static_cast<int>(int_arg(info[0], 0x80000000LL, 0))));
}

Napi::Value UdpSocket::GetSendBufferSize(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_get_buffer_size(fd_, false));
}

Napi::Value UdpSocket::EnableDropCounter(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_enable_drop_counter(fd_));
}

Napi::Value UdpSocket::EnablePacketInfo(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_enable_packet_info(fd_, family_));
}

// (): UDP_GRO on (see udp_enable_gro). startReceiving's offsets/lengths/flags
// then need up to kMaxGroSegments entries per slot. Returns 0 / -errno.
Napi::Value UdpSocket::EnableGro(const Napi::CallbackInfo& info) {
  if (!CheckOpen(info)) return code(info.Env(), -EBADF);
  return code(info.Env(), udp_enable_gro(fd_));
}

// (address, port, scopeId): where send/sendBatch go. Not connect(): a
// connected UDP socket would also filter what it receives by source.
Napi::Value UdpSocket::SetDestination(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  Endpoint to;
  int rc = make_endpoint(family_, string_arg(info[0]).c_str(), static_cast<uint16_t>(int_arg(info[1], 65536, 0)),
                         static_cast<uint32_t>(int_arg(info[2], 0x100000000LL, 0)), &to);
  if (rc < 0) return code(env, rc);
  destination_ = to;
  has_destination_ = true;
  return code(env, 0);
}

// (address, port, scopeId): connects the send socket to the group, so the
// kernel picks its source address once (localAddress() then reports it).
// Sending still names the destination (setDestination); a send socket joins no
// group, so the receive filtering that connect() implies costs nothing.
Napi::Value UdpSocket::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  Endpoint to;
  int rc = make_endpoint(family_, string_arg(info[0]).c_str(), static_cast<uint16_t>(int_arg(info[1], 65536, 0)),
                         static_cast<uint32_t>(int_arg(info[2], 0x100000000LL, 0)), &to);
  if (rc < 0) return code(env, rc);
  return code(env, udp_connect(fd_, to));
}

// The local address as text, or -errno.
Napi::Value UdpSocket::LocalAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  char text[64];
  int rc = udp_local_address(fd_, text, sizeof text);
  if (rc < 0) return code(env, rc);
  return Napi::String::New(env, text);
}

// (address, port, counting): attaches the own-datagram filter (socket.h) to
// this receive socket; `counting` picks the eBPF kind with a counter, which
// onBatch then reports. Returns 0 or -errno (the socket keeps any filter it had).
Napi::Value UdpSocket::AttachOwnFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  const int64_t port = int_arg(info[1], 65536, 0);
  if (port <= 0) return code(env, -EINVAL);
  const OwnFilterKind kind = bool_arg(info[2]) ? OwnFilterKind::kCounting : OwnFilterKind::kClassic;
  OwnFilter attached;
  int rc = udp_attach_own_filter(fd_, family_, static_cast<uint16_t>(port), string_arg(info[0]).c_str(), kind, &attached);
  if (rc < 0) return code(env, rc);
  // The new filter replaced the old one in the kernel; so does its counter here.
  const int64_t replaced = own_filter_dropped(own_filter_);
  if (replaced > 0) own_dropped_before_ += static_cast<uint64_t>(replaced);
  own_filter_release(own_filter_);
  own_filter_ = attached;
  return code(env, 0);
}

// (datagrams: Uint8Array[], start): sends datagrams[start..] with sendmmsg.
// Returns how many were handed to the kernel; stops early at would-block or at
// another error (which the next call, starting there, returns as -errno when
// it is the first datagram of that call).
Napi::Value UdpSocket::SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  if (!has_destination_) return code(env, -EDESTADDRREQ);
  if (!info[0].IsArray()) return code(env, -EINVAL);
  Napi::Array list = info[0].As<Napi::Array>();
  const uint32_t total = list.Length();
  uint32_t next = static_cast<uint32_t>(int_arg(info[1], 0x100000000LL, 0));
  uint32_t sent = 0;
  while (next < total) {
    const uint32_t chunk = std::min(kSendChunk, total - next);
    send_items_.resize(chunk);
    for (uint32_t j = 0; j < chunk; j++) {
      uint8_t* data;
      size_t size;
      if (!borrow_bytes(list.Get(next + j), &data, &size)) return code(env, sent > 0 ? static_cast<int>(sent) : -EINVAL);
      send_items_[j] = SendItem{data, size};
    }
    int rc = udp_send_chunk(fd_, destination_, send_items_.data(), chunk, segment_);
    if (rc < 0 && segment_ && is_segmentation_refusal(rc)) {
      // This kernel, device or route cannot segment: send the same chunk plainly, and from now on.
      segment_ = false;
      rc = udp_send_chunk(fd_, destination_, send_items_.data(), chunk, false);
    }
    if (rc < 0) {
      if (rc == -EAGAIN || rc == -EWOULDBLOCK) return code(env, static_cast<int>(sent));
      return code(env, sent > 0 ? static_cast<int>(sent) : rc);
    }
    sent += static_cast<uint32_t>(rc);
    next += static_cast<uint32_t>(rc);
    if (static_cast<uint32_t>(rc) < chunk) break;
  }
  return code(env, static_cast<int>(sent));
}

// (on: boolean): use UDP GSO in sendBatch (see udp_send_chunk). Returns 0.
Napi::Value UdpSocket::SetSegmentation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  segment_ = info[0].ToBoolean().Value();
  return code(env, 0);
}

// (): whether sendBatch segments (false after the kernel refused it once).
Napi::Value UdpSocket::Segmentation(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), segment_);
}

// (data: Buffer, slotBytes, slotCount, offsets: Uint32Array, lengths: Uint32Array,
//  flags: Uint32Array, addrs: Buffer, onBatch(count, truncated, drops, ownDropped)).
// The kernel writes straight into `data` and `addrs`; each recvmmsg batch is
// one onBatch call, with `count` datagrams described by offsets/lengths/flags
// (count < 0 is -errno of a failed recvmmsg). `drops` is the socket's
// cumulative SO_RXQ_OVFL counter from the batch, or -1 when it carried none;
// `ownDropped` the counting own-datagram filter's total (mod 2^32), or -1
// without one (and absent when count < 0).
Napi::Value UdpSocket::StartReceiving(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(info)) return code(env, -EBADF);
  if (receiving_) return code(env, -EALREADY);
  uint8_t *data, *addrs;
  size_t data_size, addrs_size, n_offsets, n_lengths, n_flags;
  uint32_t *offsets, *lengths, *flags;
  const int64_t slot_bytes = int_arg(info[1], 0x100000000LL, 0);
  const int64_t slots = int_arg(info[2], kMaxSlots + 1, 0);
  if (!borrow_bytes(info[0], &data, &data_size) || !borrow_u32(info[3], &offsets, &n_offsets) ||
      !borrow_u32(info[4], &lengths, &n_lengths) || !borrow_u32(info[5], &flags, &n_flags) ||
      !borrow_bytes(info[6], &addrs, &addrs_size) || !info[7].IsFunction() || slot_bytes <= 0 || slots <= 0 ||
      static_cast<uint64_t>(slot_bytes) * static_cast<uint64_t>(slots) > data_size ||
      static_cast<uint64_t>(slot_bytes) * static_cast<uint64_t>(slots) > 0xFFFFFFFFu ||
      static_cast<size_t>(slots) * kAddrSlotBytes > addrs_size || n_offsets < static_cast<size_t>(slots) ||
      n_lengths < static_cast<size_t>(slots) || n_flags < static_cast<size_t>(slots)) {
    return code(env, -EINVAL);
  }
  ring_.data = data;
  ring_.slot_bytes = static_cast<size_t>(slot_bytes);
  ring_.slot_count = static_cast<uint32_t>(slots);
  ring_.addrs = addrs;
  ring_.entry_capacity = static_cast<uint32_t>(std::min({n_offsets, n_lengths, n_flags, static_cast<size_t>(0xFFFFFFFFu)}));
  recv_ring_prepare(ring_);
  offsets_ = offsets;
  lengths_ = lengths;
  flags_ = flags;
  data_ref_ = Napi::Persistent(info[0].As<Napi::Buffer<uint8_t>>());
  addrs_ref_ = Napi::Persistent(info[6].As<Napi::Buffer<uint8_t>>());
  offsets_ref_ = Napi::Persistent(info[3].As<Napi::Uint32Array>());
  lengths_ref_ = Napi::Persistent(info[4].As<Napi::Uint32Array>());
  flags_ref_ = Napi::Persistent(info[5].As<Napi::Uint32Array>());
  on_batch_ = Napi::Persistent(info[7].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "BlipcastUdpSocket", Value());
  int rc = uv_poll_start(&poll_->poll, UV_READABLE, OnPoll);
  if (rc != 0) {
    ReleaseReceiveState();
    return code(env, rc);
  }
  receiving_ = true;
  return code(env, 0);
}

void UdpSocket::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* ph = reinterpret_cast<PollHandle*>(handle);  // poll is the first member
  UdpSocket* self = ph->owner;
  if (self == nullptr || self->closing_ || !self->receiving_) return;
  if (status < 0) {
    Napi::HandleScope scope(self->env_);
    napi_env env = self->env_;
    call_js(env, *self->async_context_, self->Value(), self->on_batch_.Value(), {number(env, status), number(env, 0), number(env, -1)});
    return;
  }
  self->DrainReceiveQueue();
}

void UdpSocket::DrainReceiveQueue() {
  for (int b = 0; b < kMaxBatchesPerWake; b++) {
    RecvResult result;
    int rc = udp_recv_batch(fd_, ring_, offsets_, lengths_, flags_, &result);
    if (rc == -EAGAIN || rc == -EWOULDBLOCK) return;
    Napi::HandleScope scope(env_);
    napi_env env = env_;
    if (rc < 0) {
      call_js(env, *async_context_, Value(), on_batch_.Value(), {number(env, rc), number(env, 0), number(env, -1)});
      return;
    }
    // Read after the batch: at least as many own datagrams as `drops` includes (see docs/native.md).
    const int64_t own = own_filter_dropped(own_filter_);
    const double own_total = own < 0 ? -1.0 : static_cast<double>(static_cast<uint32_t>(own_dropped_before_ + own));
    if (!call_js(env, *async_context_, Value(), on_batch_.Value(),
                 {number(env, result.delivered), number(env, result.truncated), number(env, static_cast<double>(result.drops)), number(env, own_total)})) {
      return;
    }
    // close() may have been called from inside the callback: no further recvmmsg, no further call.
    if (closing_) return;
    // A short batch means the queue was empty; poll tells us when more arrives.
    if (result.received < ring_.slot_count) return;
  }
}

Napi::Value UdpSocket::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0 || closing_ || poll_ == nullptr) return code(env, -EBADF);
  if (info[0].IsFunction()) on_closed_ = Napi::Persistent(info[0].As<Napi::Function>());
  BeginClose(true);
  return code(env, 0);
}

void UdpSocket::BeginClose(bool call_js) {
  closing_ = true;
  receiving_ = false;
  call_js_on_close_ = call_js;
  // uv_close stops the poll and removes the fd from epoll synchronously; the fd
  // itself is closed in OnPollClosed, after libuv is done with the handle.
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_->poll), OnPollClosed);
}

void UdpSocket::OnPollClosed(uv_handle_t* handle) {
  auto* ph = reinterpret_cast<PollHandle*>(handle);
  UdpSocket* self = ph->owner;
  delete ph;
  if (self == nullptr) return;
  self->poll_ = nullptr;
  self->FinishClose();
}

void UdpSocket::FinishClose() {
  if (fd_ >= 0) udp_close(fd_);
  fd_ = -1;
  own_filter_release(own_filter_);
  // At environment teardown no JS runs; the environment frees the rest once the hook is gone.
  if (!call_js_on_close_ || tearing_down_) {
    RemoveCleanupHook();
    return;
  }
  RemoveCleanupHook();
  {
    Napi::HandleScope scope(env_);
    if (!on_closed_.IsEmpty()) {
      Napi::Function done = on_closed_.Value();
      on_closed_.Reset();
      if (async_context_) {
        call_js(env_, *async_context_, Value(), done, {});
      } else {
        Napi::AsyncContext context(env_, "BlipcastUdpSocketClose", Value());
        call_js(env_, context, Value(), done, {});
      }
    }
    ReleaseReceiveState();
  }
  Unref();  // the wrapper may now be collected
}

void UdpSocket::RemoveCleanupHook() {
  if (cleanup_hook_ == nullptr) return;
  napi_remove_async_cleanup_hook(cleanup_hook_);
  cleanup_hook_ = nullptr;
}

void UdpSocket::ReleaseReceiveState() {
  data_ref_.Reset();
  addrs_ref_.Reset();
  offsets_ref_.Reset();
  lengths_ref_.Reset();
  flags_ref_.Reset();
  on_batch_.Reset();
  async_context_.reset();
  ring_ = RecvRing{};
  offsets_ = lengths_ = flags_ = nullptr;
}

void UdpSocket::OnAsyncCleanup(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  auto* self = static_cast<UdpSocket*>(arg);
  self->tearing_down_ = true;
  // A close already under way removes the hook in FinishClose, when libuv is done with the handle.
  if (self->closing_) return;
  if (self->poll_ == nullptr) {
    self->RemoveCleanupHook();
    return;
  }
  self->BeginClose(false);
}

}  // namespace blipcast
