// fio: the base of every blocking call of the fileio addon. Each call is one AsyncWorker whose
// Execute() runs on libuv's thread pool and never touches JS; a failed syscall is carried back
// as errno + syscall name and rejected on the JS thread, where the TypeScript wrapper turns it
// into a NativeError (native/errors.ts).
#ifndef EXTENTLOG_FIO_WORKER_H_
#define EXTENTLOG_FIO_WORKER_H_

#include <napi.h>

#include <cstring>
#include <string>

class FioWorker : public Napi::AsyncWorker {
 public:
  FioWorker(Napi::Env env, const char* resource)
      : Napi::AsyncWorker(env, resource), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  // Called from Execute() only: records the failure for OnError().
  void Fail(const char* syscall, int error_number) {
    syscall_ = syscall;
    errno_ = error_number;
    SetError(syscall);
  }

  // The resolved value; runs on the JS thread.
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

  void OnOK() override { deferred_.Resolve(Result(Env())); }

  void OnError(const Napi::Error&) override {
    Napi::Env env = Env();
    Napi::Error error = Napi::Error::New(env, std::string(syscall_) + ": " + std::strerror(errno_));
    error.Set("errno", Napi::Number::New(env, errno_));
    error.Set("syscall", Napi::String::New(env, syscall_));
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  const char* syscall_ = "";
  int errno_ = 0;
};

// Argument helpers: the TypeScript wrapper validates ranges; these only refuse wrong types so
// that a direct caller gets a TypeError instead of undefined behaviour.
inline bool FioCheckNumbers(const Napi::CallbackInfo& info, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (!info[i].IsNumber()) {
      Napi::TypeError::New(info.Env(),
                           "fileio: argument " + std::to_string(i) + " must be a number")
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

inline int64_t FioInt64(const Napi::CallbackInfo& info, size_t index) {
  return info[index].As<Napi::Number>().Int64Value();
}

void FioInitHashBlocks(Napi::Env env, Napi::Object exports);

#endif  // EXTENTLOG_FIO_WORKER_H_
