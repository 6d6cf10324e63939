// isc: one iSCSI session (RFC 7143) over libiscsi's asynchronous API, driven by libuv.
//
// libiscsi never blocks in its *_async/*_task calls; it queues PDUs and does socket I/O only in
// iscsi_service(). A uv_poll_t watches iscsi_get_fd() for the events iscsi_which_events() asks
// for and calls iscsi_service() when they arrive; a uv_timer_t calls iscsi_service(ctx, 0) while
// work is outstanding so libiscsi can time out PDUs (iscsi_set_timeout). Many SCSI commands may be
// in flight; each settles one promise from its completion callback, on the JS thread.
//
// Connection loss is final for a session: auto-reconnect is off (iscsi_set_noautoreconnect), so
// a broken connection tears the context down, every command in flight is rejected with kind
// 'connection' and the caller decides how to reconnect (a new session). A PDU timeout tears the
// session down the same way: the target may still execute the command, and an initiator that
// gave up on a task must not keep using the connection it was sent on.
//
// Lifetime: while anything is outstanding the JS object is strongly referenced and the uv handles
// keep the event loop alive; an idle, connected session holds neither.
#ifndef EXTENTLOG_ISC_SESSION_H_
#define EXTENTLOG_ISC_SESSION_H_

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

class IscSession;

// What a completed command resolves with.
enum class IscResult {
  kNone,       // undefined
  kDataIn,     // a copy of the data-in buffer (INQUIRY, READ CAPACITY, GET LBA STATUS)
  kReadBytes,  // the number of bytes read into the caller's buffer (READ)
};

// One SCSI command in flight; owned by its completion callback.
struct IscPending {
  IscSession* session = nullptr;
  Napi::Promise::Deferred deferred;
  // Keeps the JS buffer the command reads from (writes) or into (reads) alive while in flight.
  Napi::Reference<Napi::Value> keep;
  scsi_iovec iov{nullptr, 0};
  scsi_task* task = nullptr;
  IscResult result = IscResult::kNone;
  const char* name = "";
  uint64_t submitted_ms = 0;

  explicit IscPending(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

class IscSession : public Napi::ObjectWrap<IscSession> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit IscSession(const Napi::CallbackInfo& info);
  ~IscSession() override;

  // Commands (isc-commands.cc).
  Napi::Value TestUnitReady(const Napi::CallbackInfo& info);
  Napi::Value Inquiry(const Napi::CallbackInfo& info);
  Napi::Value ReadCapacity16(const Napi::CallbackInfo& info);
  Napi::Value Read16(const Napi::CallbackInfo& info);
  Napi::Value Write16(const Napi::CallbackInfo& info);
  Napi::Value SynchronizeCache16(const Napi::CallbackInfo& info);
  Napi::Value Unmap(const Napi::CallbackInfo& info);
  Napi::Value WriteSame16(const Napi::CallbackInfo& info);
  Napi::Value GetLbaStatus16(const Napi::CallbackInfo& info);
  Napi::Value CommandIn(const Napi::CallbackInfo& info);

  // Session (isc-session.cc).
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value InFlight(const Napi::CallbackInfo& info);

  // Used by the commands: a pending command for `name`, rejected at once when the session cannot
  // take commands (returns nullptr and sets `*rejected`).
  IscPending* Begin(const char* name, Napi::Value* rejected);
  // Hands a submitted task (or nullptr when libiscsi refused it) to the event loop.
  Napi::Value Submitted(IscPending* pending, scsi_task* task);
  static void OnCommandDone(iscsi_context* iscsi, int status, void* command_data,
                            void* private_data);

  iscsi_context* context() const { return ctx_; }
  int lun() const { return lun_; }

 private:
  enum class State { kIdle, kConnecting, kReady, kClosing, kDown };
  // libiscsi times PDUs out at whole seconds (time(2)): a failure this close to the timeout
  // is one.
  static constexpr uint64_t kTimeoutSlackMs = 1000;

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnTcpConnected(iscsi_context* iscsi, int status, void* command_data,
                             void* private_data);
  static void OnLoggedIn(iscsi_context* iscsi, int status, void* command_data, void* private_data);
  static void OnLoggedOut(iscsi_context* iscsi, int status, void* command_data, void* private_data);

  void Service(int revents);
  void UpdatePoll();
  void UpdateBusy();
  void StopPoll();
  std::string SocketError();
  void ConnectFailed(const char* kind, const std::string& message);
  // Destroys the context: commands in flight reject with `kind`/`message`.
  void Teardown(const char* kind, const std::string& message);
  void Settle(IscPending* pending, int status);
  Napi::Object MakeError(const char* kind, const std::string& message);

  Napi::Env env_;
  Napi::AsyncContext async_context_;
  uv_loop_t* loop_ = nullptr;
  iscsi_context* ctx_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  int poll_fd_ = -1;
  int poll_events_ = 0;
  uv_timer_t* timer_ = nullptr;
  bool busy_ = false;
  bool destroying_ = false;
  // Set inside libiscsi callbacks; acted on once iscsi_service() has returned.
  bool teardown_pending_ = false;
  std::string pending_kind_;
  std::string pending_message_;
  // libiscsi's error text for the command whose callback is running.
  std::string pending_message_for_command_;

  State state_ = State::kIdle;
  std::string portal_;
  int lun_ = 0;
  int in_flight_ = 0;
  uint64_t timeout_ms_ = 0;
  uint64_t close_deadline_ms_ = 0;
  std::unique_ptr<Napi::Promise::Deferred> connect_deferred_;
  std::unique_ptr<Napi::Promise::Deferred> close_deferred_;
  // Why the session went down; reported to every later call.
  std::string down_kind_ = "closed";
  std::string down_message_ = "the session is closed";
};

#endif  // EXTENTLOG_ISC_SESSION_H_
