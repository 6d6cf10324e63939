// erbd: Ceph RBD through librados and librbd (Ceph's include/rados/librados.h and
// include/rbd/librbd.h C APIs): connect to a cluster from a ceph.conf, a keyring, or explicit
// monitor addresses and a cephx key (any `rados_conf_set` option); open an image at its head or
// read-only at a snapshot. The image's calls live in rbd-image.cc. Every blocking call is an
// AsyncWorker; a refusal carries the -errno librados returned and the name of the call.
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "rbd-worker.h"

namespace {

class Cluster : public Napi::ObjectWrap<Cluster> {
 public:
  static Napi::Function Class(Napi::Env env) {
    return DefineClass(env, "Cluster",
                       {InstanceMethod("openImage", &Cluster::OpenImage),
                        InstanceMethod("shutdown", &Cluster::Shutdown)});
  }

  // Created empty by ConnectWorker, which then attaches the connected handle.
  explicit Cluster(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Cluster>(info) {}

  ~Cluster() override {
    // Only reached when JS dropped the cluster without shutdown(); images keep it alive.
    if (cluster_ != nullptr) rados_shutdown(cluster_);
  }

  rados_t Handle() const { return cluster_; }
  void Attach(rados_t cluster) { cluster_ = cluster; }

 private:
  Napi::Value OpenImage(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);

  friend class OpenImageWorker;
  friend void ::ErbdClusterImageClosed(Napi::Object cluster);
  rados_t cluster_ = nullptr;
  int open_images_ = 0;
};

class ConnectWorker : public ErbdWorker {
 public:
  ConnectWorker(Napi::Env env, std::string client_id, std::string conf_path,
                std::vector<std::pair<std::string, std::string>> settings)
      : ErbdWorker(env, "extentlog.rbd.connect"),
        client_id_(std::move(client_id)),
        conf_path_(std::move(conf_path)),
        settings_(std::move(settings)) {}

  void Execute() override {
    rados_t cluster = nullptr;
    int rc = rados_create(&cluster, client_id_.empty() ? nullptr : client_id_.c_str());
    if (rc < 0) return Fail("rados_create", rc);
    if (!conf_path_.empty()) {
      rc = rados_conf_read_file(cluster, conf_path_.c_str());
      if (rc < 0) {
        rados_shutdown(cluster);
        return Fail("rados_conf_read_file", rc);
      }
    }
    for (const auto& [key, value] : settings_) {
      rc = rados_conf_set(cluster, key.c_str(), value.c_str());
      if (rc < 0) {
        rados_shutdown(cluster);
        return Fail("rados_conf_set(" + key + ")", rc);
      }
    }
    rc = rados_connect(cluster);
    if (rc < 0) {
      rados_shutdown(cluster);
      return Fail("rados_connect", rc);
    }
    cluster_ = cluster;
  }

  Napi::Value Result(Napi::Env env) override {
    auto* data = env.GetInstanceData<ErbdAddonData>();
    Napi::Object object = data->cluster_constructor.New({});
    Cluster::Unwrap(object)->Attach(cluster_);
    return object;
  }

 private:
  std::string client_id_, conf_path_;
  std::vector<std::pair<std::string, std::string>> settings_;
  rados_t cluster_ = nullptr;
};

class OpenImageWorker : public ErbdWorker {
 public:
  OpenImageWorker(Napi::Env env, Napi::Object cluster, std::string pool, std::string image,
                  std::string snap, bool read_only)
      : ErbdWorker(env, "extentlog.rbd.open"),
        cluster_ref_(Napi::Persistent(cluster)),
        handle_(Cluster::Unwrap(cluster)->Handle()),
        pool_(std::move(pool)),
        image_(std::move(image)),
        snap_(std::move(snap)),
        read_only_(read_only) {}

  void Execute() override {
    int rc = rados_ioctx_create(handle_, pool_.c_str(), &ioctx_);
    if (rc < 0) return Fail("rados_ioctx_create", rc);
    const char* snap = snap_.empty() ? nullptr : snap_.c_str();
    rc = read_only_ ? rbd_open_read_only(ioctx_, image_.c_str(), &image_handle_, snap)
                    : rbd_open(ioctx_, image_.c_str(), &image_handle_, snap);
    if (rc < 0) {
      rados_ioctx_destroy(ioctx_);
      ioctx_ = nullptr;
      return Fail(read_only_ ? "rbd_open_read_only" : "rbd_open", rc);
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object cluster = cluster_ref_.Value();
    Cluster::Unwrap(cluster)->open_images_++;
    return ErbdNewImage(env, cluster, ioctx_, image_handle_);
  }

 private:
  Napi::ObjectReference cluster_ref_;
  rados_t handle_;
  std::string pool_, image_, snap_;
  bool read_only_;
  rados_ioctx_t ioctx_ = nullptr;
  rbd_image_t image_handle_ = nullptr;
};

class ShutdownWorker : public ErbdWorker {
 public:
  ShutdownWorker(Napi::Env env, rados_t cluster)
      : ErbdWorker(env, "extentlog.rbd.shutdown"), cluster_(cluster) {}
  void Execute() override { rados_shutdown(cluster_); }

 private:
  rados_t cluster_;
};

Napi::Value RejectNow(Napi::Env env, const char* call, int error_number) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(ErbdWorker::ErbdErrnoError(env, call, error_number));
  return deferred.Promise();
}

// openImage(pool, image, snapName | null, readOnly)
Napi::Value Cluster::OpenImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ErbdCheck(info, 0, napi_string, "pool") || !ErbdCheck(info, 1, napi_string, "image") ||
      !ErbdCheck(info, 3, napi_boolean, "readOnly"))
    return env.Undefined();
  if (cluster_ == nullptr) return RejectNow(env, "rbd_open", ESHUTDOWN);
  auto* worker = new OpenImageWorker(env, info.This().As<Napi::Object>(),
                                     info[0].As<Napi::String>(), info[1].As<Napi::String>(),
                                     ErbdOptionalString(info[2]), info[3].As<Napi::Boolean>());
  worker->Queue();
  return worker->Promise();
}

Napi::Value Cluster::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (cluster_ == nullptr) return RejectNow(env, "rados_shutdown", ESHUTDOWN);
  if (open_images_ > 0) return RejectNow(env, "rados_shutdown", EBUSY);
  auto* worker = new ShutdownWorker(env, cluster_);
  cluster_ = nullptr;
  worker->Queue();
  return worker->Promise();
}

// connect(clientId, confPath, settings: [key, value][])
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ErbdCheck(info, 0, napi_string, "clientId") ||
      !ErbdCheck(info, 1, napi_string, "confPath") || !info[2].IsArray()) {
    if (!env.IsExceptionPending())
      Napi::TypeError::New(env, "rbd: settings must be an array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<std::pair<std::string, std::string>> settings;
  Napi::Array array = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value entry = array.Get(i);
    if (!entry.IsArray() || entry.As<Napi::Array>().Length() != 2 ||
        !entry.As<Napi::Array>().Get(0u).IsString() ||
        !entry.As<Napi::Array>().Get(1u).IsString()) {
      Napi::TypeError::New(env, "rbd: each setting must be a [key, value] pair of strings")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    settings.emplace_back(entry.As<Napi::Array>().Get(0u).As<Napi::String>(),
                          entry.As<Napi::Array>().Get(1u).As<Napi::String>());
  }
  auto* worker = new ConnectWorker(env, info[0].As<Napi::String>(), info[1].As<Napi::String>(),
                                   std::move(settings));
  worker->Queue();
  return worker->Promise();
}

}  // namespace

bool ErbdCheck(const Napi::CallbackInfo& info, size_t index, napi_valuetype type,
               const char* what) {
  if (info[index].Type() == type) return true;
  Napi::TypeError::New(info.Env(), std::string("rbd: ") + what + " has the wrong type")
      .ThrowAsJavaScriptException();
  return false;
}

bool ErbdCheckBuffer(const Napi::CallbackInfo& info, size_t index) {
  if (info[index].IsBuffer()) return true;
  Napi::TypeError::New(info.Env(), "rbd: argument " + std::to_string(index) + " must be a Buffer")
      .ThrowAsJavaScriptException();
  return false;
}

std::string ErbdOptionalString(const Napi::Value& value) {
  return value.IsString() ? value.As<Napi::String>().Utf8Value() : std::string();
}

// Called by an image when it closes: a cluster shuts down only once its images are closed.
void ErbdClusterImageClosed(Napi::Object cluster) {
  Cluster* self = Cluster::Unwrap(cluster);
  if (self->open_images_ > 0) self->open_images_--;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new ErbdAddonData();
  data->cluster_constructor = Napi::Persistent(Cluster::Class(env));
  data->image_constructor = Napi::Persistent(ErbdImageClass(env));
  env.SetInstanceData(data);
  exports.Set("connect", Napi::Function::New(env, Connect));
  int major = 0, minor = 0, extra = 0;
  rbd_version(&major, &minor, &extra);
  exports.Set("librbdVersion",
              Napi::String::New(env, std::to_string(major) + "." + std::to_string(minor) + "." +
                                         std::to_string(extra)));
  return exports;
}

NODE_API_MODULE(rbd, Init)
