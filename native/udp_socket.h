// The UdpSocket class exported to JavaScript: a thin Node-API wrapper over the
// platform functions of socket.h plus the uv_poll receive loop. No protocol
// state, no timers; methods return 0 / -errno / plain values and JavaScript
// (src/transport/native.ts) validates arguments and builds the errors.
#ifndef BLIPCAST_NATIVE_UDP_SOCKET_H
#define BLIPCAST_NATIVE_UDP_SOCKET_H

#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

#include "socket.h"

namespace blipcast {

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit UdpSocket(const Napi::CallbackInfo& info);
  ~UdpSocket() override;

 private:
  // The poll handle lives on its own so that it can outlive the wrapper until
  // libuv's close callback runs.
  struct PollHandle {
    uv_poll_t poll;
    UdpSocket* owner;
  };

  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value SetReuse(const Napi::CallbackInfo& info);
  Napi::Value SetV6Only(const Napi::CallbackInfo& info);
  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value LocalPort(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastAll(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastInterface(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastTtl(const Napi::CallbackInfo& info);
  Napi::Value SetMulticastLoop(const Napi::CallbackInfo& info);
  Napi::Value AddMembership(const Napi::CallbackInfo& info);
  Napi::Value SetRecvBufferSize(const Napi::CallbackInfo& info);
  Napi::Value GetRecvBufferSize(const Napi::CallbackInfo& info);
  Napi::Value SetSendBufferSize(const Napi::CallbackInfo& info);
  Napi::Value GetSendBufferSize(const Napi::CallbackInfo& info);
  Napi::Value EnableDropCounter(const Napi::CallbackInfo& info);
  Napi::Value EnablePacketInfo(const Napi::CallbackInfo& info);
  Napi::Value EnableGro(const Napi::CallbackInfo& info);
  Napi::Value SetDestination(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value LocalAddress(const Napi::CallbackInfo& info);
  Napi::Value AttachOwnFilter(const Napi::CallbackInfo& info);
  Napi::Value SendBatch(const Napi::CallbackInfo& info);
  Napi::Value SetSegmentation(const Napi::CallbackInfo& info);
  Napi::Value Segmentation(const Napi::CallbackInfo& info);
  Napi::Value StartReceiving(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  bool CheckOpen(const Napi::CallbackInfo& info);  // false: returns -EBADF to JS

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnPollClosed(uv_handle_t* handle);
  // Environment teardown (a worker ending, the process exiting): closes the handle and keeps
  // the environment, and so this library, alive until libuv has called OnPollClosed.
  static void OnAsyncCleanup(napi_async_cleanup_hook_handle handle, void* arg);
  void RemoveCleanupHook();
  void DrainReceiveQueue();
  // Stops polling and starts closing; `call_js` is false at environment teardown.
  void BeginClose(bool call_js);
  void FinishClose();
  void ReleaseReceiveState();

  Napi::Env env_;
  int fd_ = -1;
  int family_ = 0;
  bool closing_ = false;
  bool receiving_ = false;
  bool call_js_on_close_ = true;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;
  bool tearing_down_ = false;
  PollHandle* poll_ = nullptr;
  Endpoint destination_;
  bool has_destination_ = false;
  // The counter of the eBPF own-datagram filter, when one is attached (released at close),
  // and what the filters it replaced had counted: the total stays cumulative, like SO_RXQ_OVFL.
  OwnFilter own_filter_;
  uint64_t own_dropped_before_ = 0;

  // Receive state: references keep the JS-owned memory alive while the kernel writes into it.
  RecvRing ring_;
  Napi::Reference<Napi::Buffer<uint8_t>> data_ref_;
  Napi::Reference<Napi::Buffer<uint8_t>> addrs_ref_;
  Napi::Reference<Napi::Uint32Array> offsets_ref_;
  Napi::Reference<Napi::Uint32Array> lengths_ref_;
  Napi::Reference<Napi::Uint32Array> flags_ref_;
  uint32_t* offsets_ = nullptr;
  uint32_t* lengths_ = nullptr;
  uint32_t* flags_ = nullptr;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_closed_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::vector<SendItem> send_items_;
  // UDP GSO for runs of equal-size datagrams in SendBatch; turned off for good
  // the first time the kernel refuses a segmented send.
  bool segment_ = false;
};

}  // namespace blipcast

#endif
