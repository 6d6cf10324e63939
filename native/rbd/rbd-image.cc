// erbd: one open RBD image (include/rbd/librbd.h): stat and features, snapshots (create,
// protect, unprotect, remove, list), rbd_diff_iterate2 between two snapshots (or from the
// image's creation), aio reads with many in flight, writes and discards.
//
// Reads use rbd_aio_read. librbd calls the completion on one of its own threads; the callback
// only hands the request to a thread-safe function, and the promise is settled on the JS
// thread. The thread-safe function is referenced only while reads are in flight, so an idle
// image does not keep Node.js alive.
//
// Offsets and lengths are bytes; ranges are half-open [offset, offset + length).
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "rbd-worker.h"

namespace {

class Image;

struct ReadRequest {
  ReadRequest(Napi::Env env, Image* owner, Napi::Object image, Napi::Buffer<uint8_t> buffer)
      : image(owner),
        image_ref(Napi::Persistent(image)),
        buffer_ref(Napi::Persistent(buffer)),
        deferred(Napi::Promise::Deferred::New(env)) {}
  Image* image;
  Napi::ObjectReference image_ref;
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_ref;
  Napi::Promise::Deferred deferred;
  rbd_completion_t completion = nullptr;
};

void SettleRead(Napi::Env env, Napi::Function, Image* image, ReadRequest* request);
using ReadDone = Napi::TypedThreadSafeFunction<Image, ReadRequest, SettleRead>;

class Image : public Napi::ObjectWrap<Image> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(
        env, "Image",
        {InstanceMethod("stat", &Image::Stat), InstanceMethod("snapList", &Image::SnapList),
         InstanceMethod("snapCreate", &Image::SnapCreate),
         InstanceMethod("snapRemove", &Image::SnapRemove),
         InstanceMethod("snapProtect", &Image::SnapProtect),
         InstanceMethod("snapUnprotect", &Image::SnapUnprotect),
         InstanceMethod("diff", &Image::Diff), InstanceMethod("read", &Image::Read),
         InstanceMethod("write", &Image::Write), InstanceMethod("discard", &Image::Discard),
         InstanceMethod("close", &Image::Close)});
  }

  explicit Image(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Image>(info) {
    if (info.Length() != 1 || !info[0].IsObject()) {
      Napi::TypeError::New(info.Env(), "rbd: Image is created by Cluster.openImage()")
          .ThrowAsJavaScriptException();
      return;
    }
    cluster_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  }

  // Hands the opened image to this object (ErbdNewImage, right after construction).
  void Attach(Napi::Env env, rados_ioctx_t ioctx, rbd_image_t image) {
    ioctx_ = ioctx;
    image_ = image;
    done_ = ReadDone::New(env, "extentlog.rbd.aio_read", 0, 1, this);
    done_.Unref(env);
  }

  ~Image() override {
    // An open image here was dropped by JS without close(); nothing is in flight, as every
    // request and worker holds a reference to the image.
    if (image_ == nullptr) return;
    done_.Release();
    rbd_close(image_);
    rados_ioctx_destroy(ioctx_);
  }

  rbd_image_t Handle() const { return image_; }

  // Every worker and read holds the image busy; close() refuses while anything is.
  void Begin() { busy_++; }
  void End() { busy_--; }

  void ReadStarted(Napi::Env env) {
    if (reads_++ == 0) done_.Ref(env);
  }
  void ReadSettled(Napi::Env env) {
    if (--reads_ == 0) done_.Unref(env);
  }
  ReadDone& Done() { return done_; }

 private:
  Napi::Value Stat(const Napi::CallbackInfo& info);
  Napi::Value SnapList(const Napi::CallbackInfo& info);
  Napi::Value SnapCreate(const Napi::CallbackInfo& info);
  Napi::Value SnapRemove(const Napi::CallbackInfo& info);
  Napi::Value SnapProtect(const Napi::CallbackInfo& info);
  Napi::Value SnapUnprotect(const Napi::CallbackInfo& info);
  Napi::Value Diff(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Discard(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SnapCall(const Napi::CallbackInfo& info, int which);
  bool Usable(const Napi::CallbackInfo& info, const char* call, Napi::Value* rejected);

  Napi::ObjectReference cluster_ref_;
  rados_ioctx_t ioctx_ = nullptr;
  rbd_image_t image_ = nullptr;
  ReadDone done_;
  int busy_ = 0;
  int reads_ = 0;
  friend class CloseWorker;
};

Napi::Value RejectNow(Napi::Env env, const std::string& call, int error_number) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(ErbdWorker::ErbdErrnoError(env, call, error_number));
  return deferred.Promise();
}

// A worker on an open image: keeps the JS image alive and busy until it settles.
class ImageWorker : public ErbdWorker {
 public:
  ImageWorker(Napi::Env env, const char* resource, const Napi::CallbackInfo& info)
      : ErbdWorker(env, resource),
        image_ref_(Napi::Persistent(info.This().As<Napi::Object>())),
        owner_(Image::Unwrap(info.This().As<Napi::Object>())),
        image_(owner_->Handle()) {
    owner_->Begin();
  }
  ~ImageWorker() override { owner_->End(); }

 protected:
  Napi::ObjectReference image_ref_;
  Image* owner_;
  rbd_image_t image_;
};

class StatWorker : public ImageWorker {
 public:
  using ImageWorker::ImageWorker;
  void Execute() override {
    int rc = rbd_stat(image_, &info_, sizeof(info_));
    if (rc < 0) return Fail("rbd_stat", rc);
    rc = rbd_get_features(image_, &features_);
    if (rc < 0) return Fail("rbd_get_features", rc);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    result.Set("sizeBytes", Napi::Number::New(env, static_cast<double>(info_.size)));
    result.Set("objectSizeBytes", Napi::Number::New(env, static_cast<double>(info_.obj_size)));
    result.Set("objects", Napi::Number::New(env, static_cast<double>(info_.num_objs)));
    result.Set("order", Napi::Number::New(env, info_.order));
    result.Set("features", Napi::BigInt::New(env, features_));
    return result;
  }

 private:
  rbd_image_info_t info_{};
  uint64_t features_ = 0;
};

struct SnapEntry {
  uint64_t id, size;
  std::string name;
  bool is_protected;
};

class SnapListWorker : public ImageWorker {
 public:
  using ImageWorker::ImageWorker;
  void Execute() override {
    std::vector<rbd_snap_info_t> snaps(8);
    int max = static_cast<int>(snaps.size());
    int count;
    for (;;) {
      count = rbd_snap_list(image_, snaps.data(), &max);
      if (count != -ERANGE) break;
      snaps.resize(max);
    }
    if (count < 0) return Fail("rbd_snap_list", count);
    for (int i = 0; i < count; i++) {
      int is_protected = 0;
      int rc = rbd_snap_is_protected(image_, snaps[i].name, &is_protected);
      if (rc < 0 && rc != -ENOENT) {
        rbd_snap_list_end(snaps.data());
        return Fail("rbd_snap_is_protected", rc);
      }
      entries_.push_back({snaps[i].id, snaps[i].size, snaps[i].name, is_protected == 1});
    }
    rbd_snap_list_end(snaps.data());
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array result = Napi::Array::New(env, entries_.size());
    for (size_t i = 0; i < entries_.size(); i++) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("id", Napi::Number::New(env, static_cast<double>(entries_[i].id)));
      entry.Set("name", Napi::String::New(env, entries_[i].name));
      entry.Set("sizeBytes", Napi::Number::New(env, static_cast<double>(entries_[i].size)));
      entry.Set("protected", Napi::Boolean::New(env, entries_[i].is_protected));
      result.Set(static_cast<uint32_t>(i), entry);
    }
    return result;
  }

 private:
  std::vector<SnapEntry> entries_;
};

enum SnapOp { kSnapCreate, kSnapRemove, kSnapProtect, kSnapUnprotect };

class SnapWorker : public ImageWorker {
 public:
  SnapWorker(Napi::Env env, const Napi::CallbackInfo& info, int op, std::string name)
      : ImageWorker(env, "extentlog.rbd.snap", info), op_(op), name_(std::move(name)) {}
  void Execute() override {
    switch (op_) {
      case kSnapCreate:
        if (int rc = rbd_snap_create(image_, name_.c_str()); rc < 0) Fail("rbd_snap_create", rc);
        break;
      case kSnapRemove:
        if (int rc = rbd_snap_remove(image_, name_.c_str()); rc < 0) Fail("rbd_snap_remove", rc);
        break;
      case kSnapProtect:
        if (int rc = rbd_snap_protect(image_, name_.c_str()); rc < 0) Fail("rbd_snap_protect", rc);
        break;
      default:
        if (int rc = rbd_snap_unprotect(image_, name_.c_str()); rc < 0)
          Fail("rbd_snap_unprotect", rc);
        break;
    }
  }

 private:
  int op_;
  std::string name_;
};

// Resolves a Float64Array of [offset, length, exists] triplets in offset order.
class DiffWorker : public ImageWorker {
 public:
  DiffWorker(Napi::Env env, const Napi::CallbackInfo& info, std::string from_snap, uint64_t offset,
             uint64_t length)
      : ImageWorker(env, "extentlog.rbd.diff_iterate2", info),
        from_snap_(std::move(from_snap)),
        offset_(offset),
        length_(length) {}
  void Execute() override {
    // include_parent = 1: a clone's extents come from its parent too; whole_object = 0:
    // exact extents, not whole 4 MiB objects.
    int rc = rbd_diff_iterate2(image_, from_snap_.empty() ? nullptr : from_snap_.c_str(), offset_,
                               length_, 1, 0, &DiffWorker::Collect, this);
    if (rc < 0) Fail("rbd_diff_iterate2", rc);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Float64Array result = Napi::Float64Array::New(env, extents_.size());
    for (size_t i = 0; i < extents_.size(); i++) result[i] = extents_[i];
    return result;
  }

 private:
  static int Collect(uint64_t offset, size_t length, int exists, void* arg) {
    auto* self = static_cast<DiffWorker*>(arg);
    self->extents_.push_back(static_cast<double>(offset));
    self->extents_.push_back(static_cast<double>(length));
    self->extents_.push_back(exists ? 1 : 0);
    return 0;
  }
  std::string from_snap_;
  uint64_t offset_, length_;
  std::vector<double> extents_;
};

class WriteWorker : public ImageWorker {
 public:
  WriteWorker(Napi::Env env, const Napi::CallbackInfo& info, uint64_t offset,
              Napi::Buffer<uint8_t> buffer)
      : ImageWorker(env, "extentlog.rbd.write", info),
        buffer_ref_(Napi::Persistent(buffer)),
        data_(buffer.Data()),
        length_(buffer.Length()),
        offset_(offset) {}
  void Execute() override {
    ssize_t written = rbd_write(image_, offset_, length_, reinterpret_cast<const char*>(data_));
    if (written < 0) return Fail("rbd_write", static_cast<int>(written));
    if (static_cast<size_t>(written) != length_) Fail("rbd_write", EIO);
  }

 private:
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_ref_;
  const uint8_t* data_;
  size_t length_;
  uint64_t offset_;
};

class DiscardWorker : public ImageWorker {
 public:
  DiscardWorker(Napi::Env env, const Napi::CallbackInfo& info, uint64_t offset, uint64_t length)
      : ImageWorker(env, "extentlog.rbd.discard", info), offset_(offset), length_(length) {}
  void Execute() override {
    if (int rc = rbd_discard(image_, offset_, length_); rc < 0) Fail("rbd_discard", rc);
  }

 private:
  uint64_t offset_, length_;
};

// Keeps the cluster alive until the image is closed.
class CloseWorker : public ErbdWorker {
 public:
  CloseWorker(Napi::Env env, Napi::ObjectReference cluster, rados_ioctx_t ioctx, rbd_image_t image)
      : ErbdWorker(env, "extentlog.rbd.close"),
        cluster_ref_(std::move(cluster)),
        ioctx_(ioctx),
        image_(image) {}
  // Runs on the JS thread once the image is closed: the cluster may shut down from now on.
  ~CloseWorker() override { ErbdClusterImageClosed(cluster_ref_.Value()); }
  void Execute() override {
    int rc = rbd_close(image_);
    rados_ioctx_destroy(ioctx_);
    if (rc < 0) Fail("rbd_close", rc);
  }

 private:
  Napi::ObjectReference cluster_ref_;
  rados_ioctx_t ioctx_;
  rbd_image_t image_;
};

void CompleteRead(rbd_completion_t, void* arg) {
  auto* request = static_cast<ReadRequest*>(arg);
  // Runs on a librbd thread: only queue the request for the JS thread.
  request->image->Done().NonBlockingCall(request);
}

void SettleRead(Napi::Env env, Napi::Function, Image* image, ReadRequest* request) {
  ssize_t rc = rbd_aio_get_return_value(request->completion);
  rbd_aio_release(request->completion);
  if (env != nullptr) {
    if (rc < 0)
      request->deferred.Reject(
          ErbdWorker::ErbdErrnoError(env, "rbd_aio_read", static_cast<int>(-rc)));
    else
      request->deferred.Resolve(Napi::Number::New(env, static_cast<double>(rc)));
    image->ReadSettled(env);
  }
  image->End();
  delete request;
}

bool Image::Usable(const Napi::CallbackInfo& info, const char* call, Napi::Value* rejected) {
  if (image_ != nullptr) return true;
  *rejected = RejectNow(info.Env(), call, EBADF);
  return false;
}

Napi::Value Image::Stat(const Napi::CallbackInfo& info) {
  Napi::Value rejected;
  if (!Usable(info, "rbd_stat", &rejected)) return rejected;
  auto* worker = new StatWorker(info.Env(), "extentlog.rbd.stat", info);
  worker->Queue();
  return worker->Promise();
}

Napi::Value Image::SnapList(const Napi::CallbackInfo& info) {
  Napi::Value rejected;
  if (!Usable(info, "rbd_snap_list", &rejected)) return rejected;
  auto* worker = new SnapListWorker(info.Env(), "extentlog.rbd.snap_list", info);
  worker->Queue();
  return worker->Promise();
}

Napi::Value Image::SnapCall(const Napi::CallbackInfo& info, int which) {
  Napi::Value rejected;
  if (!ErbdCheck(info, 0, napi_string, "snapName")) return info.Env().Undefined();
  if (!Usable(info, "rbd_snap", &rejected)) return rejected;
  auto* worker = new SnapWorker(info.Env(), info, which, info[0].As<Napi::String>());
  worker->Queue();
  return worker->Promise();
}

Napi::Value Image::SnapCreate(const Napi::CallbackInfo& info) {
  return SnapCall(info, kSnapCreate);
}
Napi::Value Image::SnapRemove(const Napi::CallbackInfo& info) {
  return SnapCall(info, kSnapRemove);
}
Napi::Value Image::SnapProtect(const Napi::CallbackInfo& info) {
  return SnapCall(info, kSnapProtect);
}
Napi::Value Image::SnapUnprotect(const Napi::CallbackInfo& info) {
  return SnapCall(info, kSnapUnprotect);
}

uint64_t Uint64Of(const Napi::Value& value) {
  return static_cast<uint64_t>(value.As<Napi::Number>().Int64Value());
}

// diff(fromSnap | null, offsetBytes, lengthBytes)
Napi::Value Image::Diff(const Napi::CallbackInfo& info) {
  Napi::Value rejected;
  if (!ErbdCheck(info, 1, napi_number, "offsetBytes") ||
      !ErbdCheck(info, 2, napi_number, "lengthBytes"))
    return info.Env().Undefined();
  if (!Usable(info, "rbd_diff_iterate2", &rejected)) return rejected;
  auto* worker = new DiffWorker(info.Env(), info, ErbdOptionalString(info[0]), Uint64Of(info[1]),
                                Uint64Of(info[2]));
  worker->Queue();
  return worker->Promise();
}

// read(offsetBytes, buffer): fills the whole buffer, resolves the bytes read.
Napi::Value Image::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value rejected;
  if (!ErbdCheck(info, 0, napi_number, "offsetBytes") || !ErbdCheckBuffer(info, 1))
    return env.Undefined();
  if (!Usable(info, "rbd_aio_read", &rejected)) return rejected;
  auto buffer = info[1].As<Napi::Buffer<uint8_t>>();
  auto* request = new ReadRequest(env, this, info.This().As<Napi::Object>(), buffer);
  Napi::Promise promise = request->deferred.Promise();
  int rc = rbd_aio_create_completion(request, CompleteRead, &request->completion);
  if (rc < 0) {
    delete request;
    return RejectNow(env, "rbd_aio_create_completion", -rc);
  }
  Begin();
  ReadStarted(env);
  rc = rbd_aio_read(image_, Uint64Of(info[0]), buffer.Length(),
                    reinterpret_cast<char*>(buffer.Data()), request->completion);
  if (rc < 0) {
    rbd_aio_release(request->completion);
    ReadSettled(env);
    End();
    delete request;
    return RejectNow(env, "rbd_aio_read", -rc);
  }
  return promise;
}

// write(offsetBytes, buffer)
Napi::Value Image::Write(const Napi::CallbackInfo& info) {
  Napi::Value rejected;
  if (!ErbdCheck(info, 0, napi_number, "offsetBytes") || !ErbdCheckBuffer(info, 1))
    return info.Env().Undefined();
  if (!Usable(info, "rbd_write", &rejected)) return rejected;
  auto* worker =
      new WriteWorker(info.Env(), info, Uint64Of(info[0]), info[1].As<Napi::Buffer<uint8_t>>());
  worker->Queue();
  return worker->Promise();
}

// discard(offsetBytes, lengthBytes)
Napi::Value Image::Discard(const Napi::CallbackInfo& info) {
  Napi::Value rejected;
  if (!ErbdCheck(info, 0, napi_number, "offsetBytes") ||
      !ErbdCheck(info, 1, napi_number, "lengthBytes"))
    return info.Env().Undefined();
  if (!Usable(info, "rbd_discard", &rejected)) return rejected;
  auto* worker = new DiscardWorker(info.Env(), info, Uint64Of(info[0]), Uint64Of(info[1]));
  worker->Queue();
  return worker->Promise();
}

Napi::Value Image::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value rejected;
  if (!Usable(info, "rbd_close", &rejected)) return rejected;
  if (busy_ > 0) return RejectNow(env, "rbd_close", EBUSY);
  auto* worker = new CloseWorker(env, std::move(cluster_ref_), ioctx_, image_);
  image_ = nullptr;
  ioctx_ = nullptr;
  done_.Release();
  worker->Queue();
  return worker->Promise();
}

}  // namespace

Napi::Function ErbdImageClass(Napi::Env env) {
  return Image::Class(env);
}

Napi::Object ErbdNewImage(Napi::Env env, Napi::Object cluster, rados_ioctx_t ioctx,
                          rbd_image_t image) {
  auto* data = env.GetInstanceData<ErbdAddonData>();
  Napi::Object object = data->image_constructor.New({cluster});
  Image::Unwrap(object)->Attach(env, ioctx, image);
  return object;
}
