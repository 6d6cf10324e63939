// kjournal: the character device of the extentlog kernel module, /dev/extentlog/<name>
// (kmod/uapi/extentlog.h): poll(2) + read(2) of journal records, and the ioctls
// EXL_IOC_INFO, EXL_IOC_ACK, EXL_IOC_SNAP_START, EXL_IOC_SNAP_STOP, EXL_IOC_SNAP_READ.
// Every call takes fds the caller owns and runs as one AsyncWorker on libuv's pool (the
// worker base of the fileio addon); u64 values cross as BigInt.
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "fileio-worker.h"
#include "uapi/extentlog.h"

namespace {

static_assert(sizeof(exl_record) == EXL_RECORD_BYTES, "struct exl_record is 64 bytes");

Napi::BigInt U64(Napi::Env env, uint64_t value) {
  return Napi::BigInt::New(env, value);
}

bool ToU64(const Napi::Value& value, uint64_t* out) {
  if (!value.IsBigInt()) return false;
  bool lossless = false;
  *out = value.As<Napi::BigInt>().Uint64Value(&lossless);
  return lossless;
}

// Keeps a JS buffer alive while a worker fills it.
class BufferWorker : public FioWorker {
 public:
  BufferWorker(Napi::Env env, const char* resource, Napi::Buffer<uint8_t> buffer)
      : FioWorker(env, resource),
        buffer_ref_(Napi::Persistent(buffer)),
        data_(buffer.Data()),
        length_(buffer.Length()) {}

 protected:
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_ref_;
  uint8_t* data_;
  size_t length_;
};

// Waits up to timeout_ms for records, then reads whole records. Resolves the bytes read:
// 0 after the timeout, -1 when the target is gone (EOF).
class ReadWorker : public BufferWorker {
 public:
  ReadWorker(Napi::Env env, int fd, Napi::Buffer<uint8_t> buffer, int timeout_ms)
      : BufferWorker(env, "extentlog.kjournal.read", buffer), fd_(fd), timeout_ms_(timeout_ms) {}

  void Execute() override {
    pollfd p{fd_, POLLIN, 0};
    int ready;
    do {
      ready = poll(&p, 1, timeout_ms_);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return Fail("poll", errno);
    if (ready == 0) return;
    ssize_t n = read(fd_, data_, length_);
    if (n > 0) {
      bytes_ = n;
    } else if (n == 0) {
      bytes_ = -1;
    } else if (errno != EAGAIN && errno != EINTR) {
      Fail("read", errno);
    }
  }

  Napi::Value Result(Napi::Env env) override {
    return Napi::Number::New(env, static_cast<double>(bytes_));
  }

 private:
  int fd_;
  int timeout_ms_;
  ssize_t bytes_ = 0;
};

class InfoWorker : public FioWorker {
 public:
  InfoWorker(Napi::Env env, int fd) : FioWorker(env, "extentlog.kjournal.info"), fd_(fd) {}

  void Execute() override {
    if (ioctl(fd_, EXL_IOC_INFO, &info_) != 0) Fail("ioctl(EXL_IOC_INFO)", errno);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("uapiVersion", Napi::Number::New(env, info_.uapi_version));
    o.Set("recordBytes", Napi::Number::New(env, info_.record_bytes));
    o.Set("journalId", U64(env, info_.journal_id));
    o.Set("deviceSectors", U64(env, info_.device_sectors));
    o.Set("ringRecords", U64(env, info_.ring_records));
    o.Set("headPos", U64(env, info_.head_pos));
    o.Set("tailPos", U64(env, info_.tail_pos));
    o.Set("readPos", U64(env, info_.read_pos));
    o.Set("nextSeq", U64(env, info_.next_seq));
    o.Set("lostTotal", U64(env, info_.lost_total));
    o.Set("lastLossHead", U64(env, info_.last_loss_head));
    o.Set("inflightWrites", U64(env, info_.inflight_writes));
    o.Set("realtimeOffsetNs",
          Napi::BigInt::New(env, static_cast<int64_t>(info_.realtime_offset_ns)));
    o.Set("snapId", U64(env, info_.snap_id));
    o.Set("snapMarkerPos", U64(env, info_.snap_marker_pos));
    o.Set("snapChunkBytes", U64(env, info_.snap_chunk_bytes));
    o.Set("snapCapacityChunks", U64(env, info_.snap_capacity_chunks));
    o.Set("snapCopiedChunks", U64(env, info_.snap_copied_chunks));
    o.Set("snapError", Napi::Number::New(env, info_.snap_error));
    o.Set("ackedDataEnd", U64(env, info_.acked_data_end));
    return o;
  }

 private:
  int fd_;
  exl_info info_{};
};

// EXL_IOC_ACK and EXL_IOC_SNAP_STOP: one u64 argument.
class U64IoctlWorker : public FioWorker {
 public:
  U64IoctlWorker(Napi::Env env, int fd, unsigned long request, const char* syscall, uint64_t value)
      : FioWorker(env, "extentlog.kjournal.ioctl"),
        fd_(fd),
        request_(request),
        syscall_(syscall),
        value_(value) {}

  void Execute() override {
    if (ioctl(fd_, request_, &value_) != 0) Fail(syscall_, errno);
  }

 private:
  int fd_;
  unsigned long request_;
  const char* syscall_;
  uint64_t value_;
};

class SnapStartWorker : public FioWorker {
 public:
  SnapStartWorker(Napi::Env env, int fd, int cow_fd, uint32_t chunk_bytes, uint64_t flags)
      : FioWorker(env, "extentlog.kjournal.snapStart"), fd_(fd) {
    args_.cow_fd = cow_fd;
    args_.chunk_bytes = chunk_bytes;
    args_.flags = flags;
  }

  void Execute() override {
    if (ioctl(fd_, EXL_IOC_SNAP_START, &args_) != 0) Fail("ioctl(EXL_IOC_SNAP_START)", errno);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("snapId", U64(env, args_.snap_id));
    o.Set("markerPos", U64(env, args_.marker_pos));
    o.Set("capacityChunks", U64(env, args_.capacity_chunks));
    o.Set("lostTotal", U64(env, args_.lost_total));
    o.Set("lastLossHead", U64(env, args_.last_loss_head));
    return o;
  }

 private:
  int fd_;
  exl_snap_start args_{};
};

class SnapReadWorker : public BufferWorker {
 public:
  SnapReadWorker(Napi::Env env, int fd, uint64_t snap_id, uint64_t offset,
                 Napi::Buffer<uint8_t> buffer)
      : BufferWorker(env, "extentlog.kjournal.snapRead", buffer), fd_(fd) {
    args_.snap_id = snap_id;
    args_.offset_bytes = offset;
    args_.length_bytes = length_;
    args_.buf = reinterpret_cast<uintptr_t>(data_);
  }

  void Execute() override {
    int rc;
    do {
      rc = ioctl(fd_, EXL_IOC_SNAP_READ, &args_);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) Fail("ioctl(EXL_IOC_SNAP_READ)", errno);
  }

 private:
  int fd_;
  exl_snap_read args_{};
};

bool CheckArgs(const Napi::CallbackInfo& info, const char* signature) {
  for (size_t i = 0; signature[i] != '\0'; i++) {
    bool ok = signature[i] == 'n'   ? info[i].IsNumber()
              : signature[i] == 'b' ? info[i].IsBigInt()
                                    : info[i].IsBuffer();
    if (!ok) {
      Napi::TypeError::New(info.Env(), "kjournal: argument " + std::to_string(i) + " must be a " +
                                           (signature[i] == 'n'   ? "number"
                                            : signature[i] == 'b' ? "bigint"
                                                                  : "Buffer"))
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

int Int(const Napi::CallbackInfo& info, size_t index) {
  return info[index].As<Napi::Number>().Int32Value();
}

template <typename Worker, typename... Args>
Napi::Value Queue(Napi::Env env, Args&&... args) {
  auto* worker = new Worker(env, std::forward<Args>(args)...);
  worker->Queue();
  return worker->Promise();
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "nBn")) return info.Env().Undefined();
  return Queue<ReadWorker>(info.Env(), Int(info, 0), info[1].As<Napi::Buffer<uint8_t>>(),
                           Int(info, 2));
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "n")) return info.Env().Undefined();
  return Queue<InfoWorker>(info.Env(), Int(info, 0));
}

Napi::Value U64Call(const Napi::CallbackInfo& info, unsigned long request, const char* syscall) {
  uint64_t value = 0;
  if (!CheckArgs(info, "nb")) return info.Env().Undefined();
  if (!ToU64(info[1], &value)) {
    Napi::RangeError::New(info.Env(), "kjournal: argument 1 must fit in 64 bits")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Queue<U64IoctlWorker>(info.Env(), Int(info, 0), request, syscall, value);
}

Napi::Value Ack(const Napi::CallbackInfo& info) {
  return U64Call(info, EXL_IOC_ACK, "ioctl(EXL_IOC_ACK)");
}

Napi::Value SnapStop(const Napi::CallbackInfo& info) {
  return U64Call(info, EXL_IOC_SNAP_STOP, "ioctl(EXL_IOC_SNAP_STOP)");
}

Napi::Value SnapStart(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "nnnn")) return info.Env().Undefined();
  return Queue<SnapStartWorker>(info.Env(), Int(info, 0), Int(info, 1),
                                static_cast<uint32_t>(info[2].As<Napi::Number>().Uint32Value()),
                                static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value()));
}

Napi::Value SnapRead(const Napi::CallbackInfo& info) {
  uint64_t snap_id = 0;
  if (!CheckArgs(info, "nbnB")) return info.Env().Undefined();
  ToU64(info[1], &snap_id);
  return Queue<SnapReadWorker>(info.Env(), Int(info, 0), snap_id,
                               static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value()),
                               info[3].As<Napi::Buffer<uint8_t>>());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("ack", Napi::Function::New(env, Ack, "ack"));
  exports.Set("snapStart", Napi::Function::New(env, SnapStart, "snapStart"));
  exports.Set("snapStop", Napi::Function::New(env, SnapStop, "snapStop"));
  exports.Set("snapRead", Napi::Function::New(env, SnapRead, "snapRead"));

  // The record layout, so that the TypeScript decoder can check it decodes what this
  // header declares.
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("uapiVersion", EXL_UAPI_VERSION);
  layout.Set("recordBytes", static_cast<double>(sizeof(exl_record)));
  layout.Set("pos", static_cast<double>(offsetof(exl_record, pos)));
  layout.Set("seq", static_cast<double>(offsetof(exl_record, seq)));
  layout.Set("sector", static_cast<double>(offsetof(exl_record, sector)));
  layout.Set("nrSectors", static_cast<double>(offsetof(exl_record, nr_sectors)));
  layout.Set("type", static_cast<double>(offsetof(exl_record, type)));
  layout.Set("flags", static_cast<double>(offsetof(exl_record, flags)));
  layout.Set("issuedNs", static_cast<double>(offsetof(exl_record, issued_ns)));
  layout.Set("completedNs", static_cast<double>(offsetof(exl_record, completed_ns)));
  layout.Set("status", static_cast<double>(offsetof(exl_record, status)));
  layout.Set("arg", static_cast<double>(offsetof(exl_record, arg)));
  layout.Set("snapReadMaxBytes", static_cast<double>(EXL_SNAP_READ_MAX_BYTES));
  layout.Set("snapReleaseBelow", static_cast<double>(EXL_SNAP_RELEASE_BELOW));
  exports.Set("layout", layout);
  return exports;
}

}  // namespace

NODE_API_MODULE(kjournal, Init)
