// isc: the SCSI commands of an IscsiSession (SBC-4 / SPC-5 over libiscsi's *_task helpers).
//
//   testUnitReady()                                     TEST UNIT READY
//   inquiry(evpd, pageCode, allocationBytes)            INQUIRY → data-in copy
//   readCapacity16()                                    READ CAPACITY(16) → data-in copy
//   read16(lba, blockSizeBytes, into)                   READ(16) into the caller's buffer
//   write16(lba, blockSizeBytes, data, fua)             WRITE(16) from the caller's buffer
//   synchronizeCache16(lba, blocks, immed)              SYNCHRONIZE CACHE(16); blocks 0 = to end
//   unmap([lba, blocks, lba, blocks, …])                UNMAP with one descriptor per pair
//   writeSame16(lba, blocks, block, unmap)              WRITE SAME(16), UNMAP bit as given
//   getLbaStatus16(lba, allocationBytes)                GET LBA STATUS(16) → data-in copy
//   commandIn(cdb, allocationBytes)                     any data-in CDB of up to 16 bytes
//
// Buffers are used in place (scsi_iovec), never copied: each pending command holds a reference
// to its JS buffer until it completes. The TypeScript wrapper validates ranges; these functions
// only refuse wrong types. Every command returns a promise settled by OnCommandDone.
#include <string>
#include <vector>

#include "isc-session.h"

namespace {

// 'n' number, 'b' Buffer, 'B' boolean, 'a' array.
bool CheckArgs(const Napi::CallbackInfo& info, const char* name, const char* types) {
  for (size_t i = 0; types[i] != '\0'; i++) {
    const Napi::Value value = info[i];
    const bool ok = (types[i] == 'n' && value.IsNumber()) ||
                    (types[i] == 'b' && value.IsBuffer()) ||
                    (types[i] == 'B' && value.IsBoolean()) || (types[i] == 'a' && value.IsArray());
    if (!ok) {
      Napi::TypeError::New(info.Env(), std::string("iscsi: ") + name + ": argument " +
                                           std::to_string(i) + " has the wrong type")
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

uint64_t U64(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<uint64_t>(info[index].As<Napi::Number>().Int64Value());
}

uint32_t U32(const Napi::CallbackInfo& info, size_t index) {
  return info[index].As<Napi::Number>().Uint32Value();
}

// Points the pending command's iovec at a JS buffer and keeps the buffer alive.
void UseBuffer(IscPending* pending, Napi::Value value) {
  Napi::Buffer<uint8_t> buffer = value.As<Napi::Buffer<uint8_t>>();
  pending->keep = Napi::Persistent(value);
  pending->iov.iov_base = buffer.Data();
  pending->iov.iov_len = buffer.Length();
}

}  // namespace

IscPending* IscSession::Begin(const char* name, Napi::Value* rejected) {
  if (state_ == State::kReady && ctx_ != nullptr) {
    auto* pending = new IscPending(env_);
    pending->session = this;
    pending->name = name;
    return pending;
  }
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env_);
  Napi::Object error =
      state_ == State::kDown
          ? MakeError(down_kind_.c_str(), std::string(name) + ": " + down_message_)
          : MakeError("usage", std::string(name) + ": the session is not logged in");
  error.Set("command", Napi::String::New(env_, name));
  deferred.Reject(error);
  *rejected = deferred.Promise();
  return nullptr;
}

Napi::Value IscSession::Submitted(IscPending* pending, scsi_task* task) {
  Napi::Promise promise = pending->deferred.Promise();
  if (task == nullptr) {
    Napi::Object error =
        MakeError("submit", std::string(pending->name) + ": " + iscsi_get_error(ctx_));
    error.Set("command", Napi::String::New(env_, pending->name));
    pending->deferred.Reject(error);
    delete pending;
    return promise;
  }
  pending->task = task;
  pending->submitted_ms = uv_now(loop_);
  in_flight_++;
  UpdatePoll();
  UpdateBusy();
  return promise;
}

void IscSession::OnCommandDone(iscsi_context* iscsi, int status, void*, void* private_data) {
  auto* pending = static_cast<IscPending*>(private_data);
  IscSession* self = pending->session;
  self->in_flight_--;
  if (!self->destroying_) {
    if (status == SCSI_STATUS_GOOD || status == SCSI_STATUS_CANCELLED) {
      self->Settle(pending, status);
    } else {
      // libiscsi's error text describes this command; the context is alive here.
      self->pending_message_for_command_ = iscsi_get_error(iscsi);
      self->Settle(pending, status);
    }
  }
  if (pending->task != nullptr) scsi_free_scsi_task(pending->task);
  delete pending;
  self->UpdateBusy();
}

void IscSession::Settle(IscPending* pending, int status) {
  Napi::Env env = env_;
  scsi_task* task = pending->task;
  if (status == SCSI_STATUS_GOOD) {
    switch (pending->result) {
      case IscResult::kNone:
        pending->deferred.Resolve(env.Undefined());
        return;
      case IscResult::kDataIn:
        pending->deferred.Resolve(
            task->datain.data == nullptr
                ? Napi::Buffer<uint8_t>::New(env, 0)
                : Napi::Buffer<uint8_t>::Copy(env, task->datain.data, task->datain.size));
        return;
      case IscResult::kReadBytes: {
        size_t bytes = pending->iov.iov_len;
        if (task->residual_status == SCSI_RESIDUAL_UNDERFLOW && task->residual <= bytes)
          bytes -= task->residual;
        pending->deferred.Resolve(Napi::Number::New(env, static_cast<double>(bytes)));
        return;
      }
    }
  }
  Napi::Object error;
  if (status == SCSI_STATUS_CANCELLED && state_ == State::kDown) {
    error = MakeError(down_kind_.c_str(), std::string(pending->name) + ": " + down_message_);
  } else if (status == SCSI_STATUS_CANCELLED) {
    // libiscsi cancels what is in flight itself when the connection fails and it may not
    // reconnect; the session goes down once iscsi_service() returns.
    error = MakeError("connection",
                      std::string(pending->name) + ": the connection to the target was lost");
    if (!teardown_pending_) {
      teardown_pending_ = true;
      pending_kind_ = "connection";
      pending_message_ = "the connection to the target was lost";
    }
  } else if (status == SCSI_STATUS_CHECK_CONDITION) {
    error = MakeError("scsi", std::string(pending->name) + ": " + pending_message_for_command_);
    error.Set("scsiStatus", Napi::Number::New(env, status));
    error.Set("senseKey", Napi::Number::New(env, task->sense.key));
    error.Set("asc", Napi::Number::New(env, (task->sense.ascq >> 8) & 0xff));
    error.Set("ascq", Napi::Number::New(env, task->sense.ascq & 0xff));
  } else if (status == SCSI_STATUS_ERROR || status == SCSI_STATUS_TIMEOUT) {
    // A PDU timeout is SCSI_STATUS_TIMEOUT (libiscsi 1.19; older releases report it, like any
    // status they cannot handle, as SCSI_STATUS_ERROR): either way the connection is no longer
    // trusted, as the target may still execute the command. Tear the session down.
    const bool timed_out =
        status == SCSI_STATUS_TIMEOUT ||
        (timeout_ms_ > 0 && uv_now(loop_) - pending->submitted_ms + kTimeoutSlackMs >= timeout_ms_);
    error = MakeError(timed_out ? "timeout" : "connection",
                      std::string(pending->name) + ": " + pending_message_for_command_);
    if (!teardown_pending_) {
      teardown_pending_ = true;
      pending_kind_ = timed_out ? "timeout" : "connection";
      pending_message_ = pending_message_for_command_;
    }
  } else {
    error = MakeError("scsi", std::string(pending->name) + ": SCSI status " +
                                  std::to_string(status) + ": " + pending_message_for_command_);
    error.Set("scsiStatus", Napi::Number::New(env, status));
  }
  error.Set("command", Napi::String::New(env, pending->name));
  pending->deferred.Reject(error);
}

Napi::Value IscSession::TestUnitReady(const Napi::CallbackInfo&) {
  Napi::Value rejected;
  IscPending* pending = Begin("TEST UNIT READY", &rejected);
  if (pending == nullptr) return rejected;
  return Submitted(pending, iscsi_testunitready_task(ctx_, lun_, OnCommandDone, pending));
}

Napi::Value IscSession::Inquiry(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "inquiry", "Bnn")) return info.Env().Undefined();
  Napi::Value rejected;
  IscPending* pending = Begin("INQUIRY", &rejected);
  if (pending == nullptr) return rejected;
  pending->result = IscResult::kDataIn;
  return Submitted(
      pending, iscsi_inquiry_task(ctx_, lun_, info[0].As<Napi::Boolean>() ? 1 : 0,
                                  static_cast<int>(U32(info, 1)), static_cast<int>(U32(info, 2)),
                                  OnCommandDone, pending));
}

Napi::Value IscSession::ReadCapacity16(const Napi::CallbackInfo&) {
  Napi::Value rejected;
  IscPending* pending = Begin("READ CAPACITY(16)", &rejected);
  if (pending == nullptr) return rejected;
  pending->result = IscResult::kDataIn;
  return Submitted(pending, iscsi_readcapacity16_task(ctx_, lun_, OnCommandDone, pending));
}

Napi::Value IscSession::Read16(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "read16", "nnb")) return info.Env().Undefined();
  Napi::Value rejected;
  IscPending* pending = Begin("READ(16)", &rejected);
  if (pending == nullptr) return rejected;
  pending->result = IscResult::kReadBytes;
  UseBuffer(pending, info[2]);
  return Submitted(pending, iscsi_read16_iov_task(ctx_, lun_, U64(info, 0),
                                                  static_cast<uint32_t>(pending->iov.iov_len),
                                                  static_cast<int>(U32(info, 1)), 0, 0, 0, 0, 0,
                                                  OnCommandDone, pending, &pending->iov, 1));
}

Napi::Value IscSession::Write16(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "write16", "nnbB")) return info.Env().Undefined();
  Napi::Value rejected;
  IscPending* pending = Begin("WRITE(16)", &rejected);
  if (pending == nullptr) return rejected;
  UseBuffer(pending, info[2]);
  const int fua = info[3].As<Napi::Boolean>() ? 1 : 0;
  return Submitted(pending, iscsi_write16_iov_task(ctx_, lun_, U64(info, 0), nullptr,
                                                   static_cast<uint32_t>(pending->iov.iov_len),
                                                   static_cast<int>(U32(info, 1)), 0, 0, fua, 0, 0,
                                                   OnCommandDone, pending, &pending->iov, 1));
}

Napi::Value IscSession::SynchronizeCache16(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "synchronizeCache16", "nnB")) return info.Env().Undefined();
  Napi::Value rejected;
  IscPending* pending = Begin("SYNCHRONIZE CACHE(16)", &rejected);
  if (pending == nullptr) return rejected;
  return Submitted(pending, iscsi_synchronizecache16_task(ctx_, lun_, U64(info, 0), U32(info, 1), 0,
                                                          info[2].As<Napi::Boolean>() ? 1 : 0,
                                                          OnCommandDone, pending));
}

Napi::Value IscSession::Unmap(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "unmap", "a")) return info.Env().Undefined();
  Napi::Array pairs = info[0].As<Napi::Array>();
  std::vector<unmap_list> descriptors;
  for (uint32_t i = 0; i + 1 < pairs.Length(); i += 2) {
    Napi::Value lba = pairs.Get(i);
    Napi::Value blocks = pairs.Get(i + 1);
    if (!lba.IsNumber() || !blocks.IsNumber()) {
      Napi::TypeError::New(info.Env(), "iscsi: unmap: expected [lba, blocks, …] numbers")
          .ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    descriptors.push_back({static_cast<uint64_t>(lba.As<Napi::Number>().Int64Value()),
                           blocks.As<Napi::Number>().Uint32Value()});
  }
  Napi::Value rejected;
  IscPending* pending = Begin("UNMAP", &rejected);
  if (pending == nullptr) return rejected;
  // libiscsi marshals the descriptors into the task's own parameter list.
  return Submitted(pending,
                   iscsi_unmap_task(ctx_, lun_, 0, 0, descriptors.data(),
                                    static_cast<int>(descriptors.size()), OnCommandDone, pending));
}

Napi::Value IscSession::WriteSame16(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "writeSame16", "nnbB")) return info.Env().Undefined();
  Napi::Value rejected;
  IscPending* pending = Begin("WRITE SAME(16)", &rejected);
  if (pending == nullptr) return rejected;
  UseBuffer(pending, info[2]);
  const int unmap = info[3].As<Napi::Boolean>() ? 1 : 0;
  // libiscsi sends no data-out for WRITE SAME unless `data` is set, iovec or not.
  return Submitted(pending,
                   iscsi_writesame16_iov_task(
                       ctx_, lun_, U64(info, 0), static_cast<unsigned char*>(pending->iov.iov_base),
                       static_cast<uint32_t>(pending->iov.iov_len), U32(info, 1), 0, unmap, 0, 0,
                       OnCommandDone, pending, &pending->iov, 1));
}

Napi::Value IscSession::GetLbaStatus16(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "getLbaStatus16", "nn")) return info.Env().Undefined();
  Napi::Value rejected;
  IscPending* pending = Begin("GET LBA STATUS(16)", &rejected);
  if (pending == nullptr) return rejected;
  pending->result = IscResult::kDataIn;
  return Submitted(pending, iscsi_get_lba_status_task(ctx_, lun_, U64(info, 0), U32(info, 1),
                                                      OnCommandDone, pending));
}

Napi::Value IscSession::CommandIn(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "commandIn", "bn")) return info.Env().Undefined();
  Napi::Buffer<uint8_t> cdb = info[0].As<Napi::Buffer<uint8_t>>();
  if (cdb.Length() < 6 || cdb.Length() > SCSI_CDB_MAX_SIZE) {
    Napi::RangeError::New(info.Env(), "iscsi: commandIn: a CDB has 6 to 16 bytes here")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Value rejected;
  IscPending* pending = Begin("SCSI command", &rejected);
  if (pending == nullptr) return rejected;
  pending->result = IscResult::kDataIn;
  scsi_task* task = scsi_create_task(static_cast<int>(cdb.Length()), cdb.Data(), SCSI_XFER_READ,
                                     static_cast<int>(U32(info, 1)));
  if (task != nullptr &&
      iscsi_scsi_command_async(ctx_, lun_, task, OnCommandDone, nullptr, pending) != 0) {
    scsi_free_scsi_task(task);
    task = nullptr;
  }
  return Submitted(pending, task);
}
