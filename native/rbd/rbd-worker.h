// erbd: the base of every blocking call of the rbd addon. Each call is one AsyncWorker whose
// Execute() runs on libuv's thread pool and never touches JS. librados and librbd return a
// negative errno; it is carried back with the name of the failing call and rejected on the JS
// thread, where the TypeScript wrapper turns it into a NativeError (native/errors.ts).
#ifndef EXTENTLOG_ERBD_WORKER_H_
#define EXTENTLOG_ERBD_WORKER_H_

#include <napi.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include <cstring>
#include <string>

class ErbdWorker : public Napi::AsyncWorker {
 public:
  ErbdWorker(Napi::Env env, const char* resource)
      : Napi::AsyncWorker(env, resource), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  // Called from Execute() only. `rc` is a librados/librbd return value (-errno).
  void Fail(const std::string& call, int rc) {
    call_ = call;
    errno_ = rc < 0 ? -rc : rc;
    SetError(call);
  }

  // The resolved value; runs on the JS thread.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

  void OnOK() override { deferred_.Resolve(Result(Env())); }

  void OnError(const Napi::Error&) override {
    deferred_.Reject(ErbdErrnoError(Env(), call_, errno_));
  }

 public:
  static Napi::Value ErbdErrnoError(Napi::Env env, const std::string& call, int error_number) {
    Napi::Error error = Napi::Error::New(env, call + ": " + std::strerror(error_number));
    error.Set("errno", Napi::Number::New(env, error_number));
    error.Set("syscall", Napi::String::New(env, call));
    return error.Value();
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string call_;
  int errno_ = 0;
};

// Argument helpers: the TypeScript wrapper validates values; these refuse wrong types so that
// a direct caller gets a TypeError instead of undefined behaviour.
bool ErbdCheck(const Napi::CallbackInfo& info, size_t index, napi_valuetype type, const char* what);
bool ErbdCheckBuffer(const Napi::CallbackInfo& info, size_t index);
// Empty string when `value` is undefined or null.
std::string ErbdOptionalString(const Napi::Value& value);

struct ErbdAddonData {
  Napi::FunctionReference cluster_constructor;
  Napi::FunctionReference image_constructor;
};

// The image class (rbd-image.cc); `cluster` is the JS Cluster the image keeps alive.
Napi::Function ErbdImageClass(Napi::Env env);
void ErbdClusterImageClosed(Napi::Object cluster);
Napi::Object ErbdNewImage(Napi::Env env, Napi::Object cluster, rados_ioctx_t ioctx,
                          rbd_image_t image);

#endif  // EXTENTLOG_ERBD_WORKER_H_
