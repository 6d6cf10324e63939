// isc: the session half of the iscsi addon — context set-up, login, the libuv integration
// (uv_poll_t on iscsi_get_fd() + uv_timer_t for iscsi_service() timeouts) and tear-down.
// See isc-session.h for the model; isc-commands.cc holds the SCSI commands.
//
//   new IscsiSession({ initiatorName, targetName, portal, lun, user?, password?,
//                      targetUser?, targetPassword?, timeoutSeconds })
//   connect()  TCP connect (iscsi_connect_async) then login (iscsi_login_async)
//   close()    logout when idle (bounded by a grace period), then destroy the context
#include "isc-session.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

namespace {

// How often iscsi_service(ctx, 0) runs while work is outstanding: libiscsi times PDUs out in
// whole seconds, so a quarter second keeps the error close to the configured timeout.
constexpr uint64_t kServiceIntervalMs = 250;
// How long close() waits for the target's Logout Response before dropping the connection.
constexpr uint64_t kLogoutGraceMs = 2000;

std::string StringOption(Napi::Object options, const char* key) {
  Napi::Value value = options.Get(key);
  return value.IsString() ? value.As<Napi::String>().Utf8Value() : std::string();
}

int IntOption(Napi::Object options, const char* key, int fallback) {
  Napi::Value value = options.Get(key);
  return value.IsNumber() ? value.As<Napi::Number>().Int32Value() : fallback;
}

void CloseHandle(uv_handle_t* handle) {
  uv_close(handle, [](uv_handle_t* closed) { delete closed; });
}

}  // namespace

Napi::Function IscSession::Define(Napi::Env env) {
  return DefineClass(env, "IscsiSession",
                     {
                         InstanceMethod<&IscSession::Connect>("connect"),
                         InstanceMethod<&IscSession::Close>("close"),
                         InstanceMethod<&IscSession::InFlight>("inFlight"),
                         InstanceMethod<&IscSession::TestUnitReady>("testUnitReady"),
                         InstanceMethod<&IscSession::Inquiry>("inquiry"),
                         InstanceMethod<&IscSession::ReadCapacity16>("readCapacity16"),
                         InstanceMethod<&IscSession::Read16>("read16"),
                         InstanceMethod<&IscSession::Write16>("write16"),
                         InstanceMethod<&IscSession::SynchronizeCache16>("synchronizeCache16"),
                         InstanceMethod<&IscSession::Unmap>("unmap"),
                         InstanceMethod<&IscSession::WriteSame16>("writeSame16"),
                         InstanceMethod<&IscSession::GetLbaStatus16>("getLbaStatus16"),
                         InstanceMethod<&IscSession::CommandIn>("commandIn"),
                     });
}

IscSession::IscSession(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<IscSession>(info),
      env_(info.Env()),
      async_context_(info.Env(), "extentlog.iscsi") {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "iscsi: new IscsiSession(options) needs an options object")
        .ThrowAsJavaScriptException();
    return;
  }
  Napi::Object options = info[0].As<Napi::Object>();
  const std::string initiator = StringOption(options, "initiatorName");
  const std::string target = StringOption(options, "targetName");
  portal_ = StringOption(options, "portal");
  lun_ = IntOption(options, "lun", 0);
  const int timeout_seconds = IntOption(options, "timeoutSeconds", 0);
  if (initiator.empty() || target.empty() || portal_.empty()) {
    Napi::TypeError::New(env, "iscsi: initiatorName, targetName and portal are required")
        .ThrowAsJavaScriptException();
    return;
  }
  napi_get_uv_event_loop(env, &loop_);
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
  timeout_ms_ = timeout_seconds > 0 ? static_cast<uint64_t>(timeout_seconds) * 1000 : 0;
  ctx_ = iscsi_create_context(initiator.c_str());
  if (ctx_ == nullptr) {
    Napi::Error::New(env, "iscsi: iscsi_create_context failed (out of memory)")
        .ThrowAsJavaScriptException();
    return;
  }
  iscsi_set_targetname(ctx_, target.c_str());
  iscsi_set_session_type(ctx_, ISCSI_SESSION_NORMAL);
  // No digests: the extended-CDB relay (extended-cdb-relay.ts) rewrites PDU headers and relies
  // on it; over TCP the checksums add CPU for what TCP already checks.
  iscsi_set_header_digest(ctx_, ISCSI_HEADER_DIGEST_NONE);
  iscsi_set_noautoreconnect(ctx_, 1);
  if (timeout_seconds > 0) iscsi_set_timeout(ctx_, timeout_seconds);

  const std::string user = StringOption(options, "user");
  const std::string target_user = StringOption(options, "targetUser");
  if (!user.empty() && iscsi_set_initiator_username_pwd(
                           ctx_, user.c_str(), StringOption(options, "password").c_str()) != 0) {
    Napi::Error::New(env, std::string("iscsi: CHAP credentials refused: ") + iscsi_get_error(ctx_))
        .ThrowAsJavaScriptException();
    return;
  }
  if (!target_user.empty() &&
      iscsi_set_target_username_pwd(ctx_, target_user.c_str(),
                                    StringOption(options, "targetPassword").c_str()) != 0) {
    Napi::Error::New(
        env, std::string("iscsi: mutual CHAP credentials refused: ") + iscsi_get_error(ctx_))
        .ThrowAsJavaScriptException();
    return;
  }
}

IscSession::~IscSession() {
  // Nothing is in flight unless the environment is going away (busy sessions are strongly
  // referenced); commands cancelled now must not touch JS.
  destroying_ = true;
  StopPoll();
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    timer_->data = nullptr;
    CloseHandle(reinterpret_cast<uv_handle_t*>(timer_));
    timer_ = nullptr;
  }
  if (ctx_ != nullptr) {
    iscsi_context* ctx = ctx_;
    ctx_ = nullptr;
    iscsi_destroy_context(ctx);
  }
}

Napi::Object IscSession::MakeError(const char* kind, const std::string& message) {
  Napi::Error error = Napi::Error::New(env_, message);
  error.Set("kind", Napi::String::New(env_, kind));
  return error.Value();
}

Napi::Value IscSession::Connect(const Napi::CallbackInfo& info) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(info.Env());
  if (state_ != State::kIdle || ctx_ == nullptr) {
    deferred.Reject(state_ == State::kDown
                        ? MakeError(down_kind_.c_str(), down_message_)
                        : MakeError("usage", "iscsi: connect() may be called once per session"));
    return deferred.Promise();
  }
  connect_deferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
  state_ = State::kConnecting;
  if (iscsi_connect_async(ctx_, portal_.c_str(), OnTcpConnected, this) != 0) {
    Teardown("connect", std::string(iscsi_get_error(ctx_)));
    return deferred.Promise();
  }
  UpdatePoll();
  UpdateBusy();
  return deferred.Promise();
}

void IscSession::OnTcpConnected(iscsi_context* iscsi, int status, void*, void* private_data) {
  auto* self = static_cast<IscSession*>(private_data);
  if (self->state_ != State::kConnecting) return;
  if (status != SCSI_STATUS_GOOD) return self->ConnectFailed("connect", iscsi_get_error(iscsi));
  if (iscsi_login_async(iscsi, OnLoggedIn, self) != 0)
    self->ConnectFailed("login", iscsi_get_error(iscsi));
}

void IscSession::OnLoggedIn(iscsi_context* iscsi, int status, void*, void* private_data) {
  auto* self = static_cast<IscSession*>(private_data);
  if (self->state_ != State::kConnecting) return;
  if (status != SCSI_STATUS_GOOD) return self->ConnectFailed("login", iscsi_get_error(iscsi));
  self->state_ = State::kReady;
  self->connect_deferred_->Resolve(self->env_.Undefined());
  self->connect_deferred_.reset();
}

void IscSession::ConnectFailed(const char* kind, const std::string& message) {
  teardown_pending_ = true;
  pending_kind_ = kind;
  pending_message_ = message;
}

Napi::Value IscSession::Close(const Napi::CallbackInfo& info) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(info.Env());
  if (state_ == State::kReady && in_flight_ == 0 && ctx_ != nullptr &&
      iscsi_logout_async(ctx_, OnLoggedOut, this) == 0) {
    state_ = State::kClosing;
    close_deferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
    close_deadline_ms_ = uv_now(loop_) + kLogoutGraceMs;
    UpdatePoll();
    UpdateBusy();
    return deferred.Promise();
  }
  if (state_ == State::kClosing) {
    // A second close() while logging out: stop waiting for the target.
    Teardown("closed", "iscsi: the session was closed");
  } else {
    Teardown("closed", "iscsi: the session was closed");
  }
  deferred.Resolve(info.Env().Undefined());
  return deferred.Promise();
}

void IscSession::OnLoggedOut(iscsi_context*, int, void*, void* private_data) {
  auto* self = static_cast<IscSession*>(private_data);
  if (self->state_ != State::kClosing) return;
  self->teardown_pending_ = true;
  self->pending_kind_ = "closed";
  self->pending_message_ = "iscsi: the session was closed";
}

Napi::Value IscSession::InFlight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), in_flight_);
}

void IscSession::Teardown(const char* kind, const std::string& message) {
  if (state_ == State::kDown) return;
  state_ = State::kDown;
  down_kind_ = kind;
  down_message_ = message;
  // The poll handle must stop before libiscsi closes the fd it watches.
  StopPoll();
  if (ctx_ != nullptr) {
    iscsi_context* ctx = ctx_;
    ctx_ = nullptr;
    // Invokes OnCommandDone(SCSI_STATUS_CANCELLED) for every command in flight.
    iscsi_destroy_context(ctx);
  }
  if (connect_deferred_) {
    connect_deferred_->Reject(MakeError(kind, message));
    connect_deferred_.reset();
  }
  if (close_deferred_) {
    close_deferred_->Resolve(env_.Undefined());
    close_deferred_.reset();
  }
  UpdateBusy();
}

void IscSession::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<IscSession*>(handle->data);
  if (self == nullptr) return;
  Napi::HandleScope scope(self->env_);
  // Promise reactions (and process.nextTick) run when this scope closes, as after any I/O.
  Napi::CallbackScope callback_scope(self->env_, self->async_context_);
  int revents = 0;
  if (status < 0) {
    revents = POLLERR;
  } else {
    if (events & UV_READABLE) revents |= POLLIN;
    if (events & UV_WRITABLE) revents |= POLLOUT;
    if (events & UV_DISCONNECT) revents |= POLLHUP;
  }
  self->Service(revents);
}

void IscSession::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<IscSession*>(handle->data);
  if (self == nullptr) return;
  Napi::HandleScope scope(self->env_);
  Napi::CallbackScope callback_scope(self->env_, self->async_context_);
  if (self->state_ == State::kClosing && uv_now(self->loop_) >= self->close_deadline_ms_) {
    self->Teardown("closed", "iscsi: the session was closed (no Logout Response in time)");
    return;
  }
  self->Service(0);
}

void IscSession::Service(int revents) {
  if (ctx_ != nullptr && iscsi_service(ctx_, revents) < 0 && !teardown_pending_) {
    teardown_pending_ = true;
    pending_kind_ = state_ == State::kConnecting ? "connect"
                    : state_ == State::kClosing  ? "closed"
                                                 : "connection";
    pending_message_ = SocketError();
  }
  if (teardown_pending_) {
    teardown_pending_ = false;
    const std::string kind = pending_kind_;
    Teardown(kind.c_str(), pending_message_);
    return;
  }
  UpdatePoll();
  UpdateBusy();
}

std::string IscSession::SocketError() {
  // With auto-reconnect off, libiscsi overwrites the socket's error with "Can not reconnect
  // right now" before iscsi_service() returns; the socket still knows what happened.
  int error = 0;
  socklen_t length = sizeof(error);
  const int fd = iscsi_get_fd(ctx_);
  if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0)
    return std::string("socket error: ") + std::strerror(error);
  const std::string text = iscsi_get_error(ctx_);
  if (text.find("reconnect") != std::string::npos)
    return state_ == State::kConnecting ? "the connection failed while connecting"
                                        : "the target closed the connection";
  return text;
}

void IscSession::StopPoll() {
  if (poll_ == nullptr) return;
  uv_poll_stop(poll_);
  poll_->data = nullptr;
  CloseHandle(reinterpret_cast<uv_handle_t*>(poll_));
  poll_ = nullptr;
  poll_fd_ = -1;
  poll_events_ = 0;
}

void IscSession::UpdatePoll() {
  if (ctx_ == nullptr) return StopPoll();
  const int fd = iscsi_get_fd(ctx_);
  if (fd != poll_fd_) StopPoll();
  if (fd < 0) return;
  if (poll_ == nullptr) {
    poll_ = new uv_poll_t;
    if (uv_poll_init(loop_, poll_, fd) != 0) {
      delete poll_;
      poll_ = nullptr;
      ConnectFailed(state_ == State::kConnecting ? "connect" : "connection",
                    "iscsi: uv_poll_init failed on the session's socket");
      return;
    }
    poll_->data = this;
    poll_fd_ = fd;
    poll_events_ = 0;
  }
  const int wanted = iscsi_which_events(ctx_);
  const int events = ((wanted & POLLIN) ? UV_READABLE : 0) | ((wanted & POLLOUT) ? UV_WRITABLE : 0);
  if (events != poll_events_) {
    if (events == 0)
      uv_poll_stop(poll_);
    else
      uv_poll_start(poll_, events, OnPoll);
    poll_events_ = events;
  }
  if (busy_)
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  else
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
}

void IscSession::UpdateBusy() {
  if (destroying_) return;
  const bool busy = in_flight_ > 0 || state_ == State::kConnecting || state_ == State::kClosing;
  if (busy != busy_) {
    busy_ = busy;
    if (busy) {
      Ref();
      uv_timer_start(timer_, OnTimer, kServiceIntervalMs, kServiceIntervalMs);
      uv_ref(reinterpret_cast<uv_handle_t*>(timer_));
    } else {
      uv_timer_stop(timer_);
      uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
      Unref();
    }
  }
  if (poll_ != nullptr) {
    if (busy_)
      uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    else
      uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("IscsiSession", IscSession::Define(env));
  return exports;
}

NODE_API_MODULE(iscsi, Init)
