// fio: XXH3-128 digests of equal-sized blocks (libxxhash, xxhash.h), for hash-compare change
// detection. Each digest is XXH128's canonical (big-endian) form, the bytes `xxhsum -H2`
// prints. The last block may be short (a disk whose size is not a multiple of the block size)
// and is hashed as it is.
//
//   hashBlocksSync(input, blockSizeBytes, output)           hashes on the calling thread
//   hashBlocksAsync(input, blockSizeBytes, output) → Promise hashes on the thread pool
//
// `output` holds 16 bytes per block, allocated by the caller; the async form keeps both
// buffers referenced until it settles, so their memory cannot move or be freed meanwhile.
#include <xxhash.h>

#include <cstdint>

#include "fileio-worker.h"

namespace {

constexpr size_t kDigestBytes = sizeof(XXH128_canonical_t);

void HashBlocks(const uint8_t* input, size_t input_bytes, size_t block_bytes, uint8_t* output) {
  for (size_t offset = 0; offset < input_bytes; offset += block_bytes) {
    size_t length = input_bytes - offset < block_bytes ? input_bytes - offset : block_bytes;
    XXH128_canonicalFromHash(reinterpret_cast<XXH128_canonical_t*>(output),
                             XXH3_128bits(input + offset, length));
    output += kDigestBytes;
  }
}

struct HashArgs {
  Napi::Buffer<uint8_t> input;
  size_t block_bytes;
  Napi::Buffer<uint8_t> output;
};

bool ParseHashArgs(const Napi::CallbackInfo& info, HashArgs* args) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer() || !info[1].IsNumber() || !info[2].IsBuffer()) {
    Napi::TypeError::New(env, "fileio.hashBlocks: expected (Buffer, number, Buffer)")
        .ThrowAsJavaScriptException();
    return false;
  }
  args->input = info[0].As<Napi::Buffer<uint8_t>>();
  int64_t block_bytes = info[1].As<Napi::Number>().Int64Value();
  args->output = info[2].As<Napi::Buffer<uint8_t>>();
  size_t blocks = block_bytes > 0 ? (args->input.Length() + block_bytes - 1) / block_bytes : 0;
  if (block_bytes <= 0 || args->output.Length() < blocks * kDigestBytes) {
    Napi::RangeError::New(env, "fileio.hashBlocks: block size or output length out of range")
        .ThrowAsJavaScriptException();
    return false;
  }
  args->block_bytes = static_cast<size_t>(block_bytes);
  return true;
}

class HashBlocksWorker : public FioWorker {
 public:
  HashBlocksWorker(Napi::Env env, const HashArgs& args)
      : FioWorker(env, "extentlog.hashBlocks"),
        input_(Napi::Persistent(args.input)),
        output_(Napi::Persistent(args.output)),
        input_data_(args.input.Data()),
        input_bytes_(args.input.Length()),
        block_bytes_(args.block_bytes),
        output_data_(args.output.Data()) {}

  void Execute() override { HashBlocks(input_data_, input_bytes_, block_bytes_, output_data_); }

 private:
  Napi::Reference<Napi::Buffer<uint8_t>> input_, output_;
  const uint8_t* input_data_;
  size_t input_bytes_, block_bytes_;
  uint8_t* output_data_;
};

Napi::Value HashBlocksSync(const Napi::CallbackInfo& info) {
  HashArgs args;
  if (!ParseHashArgs(info, &args)) return info.Env().Undefined();
  HashBlocks(args.input.Data(), args.input.Length(), args.block_bytes, args.output.Data());
  return info.Env().Undefined();
}

Napi::Value HashBlocksAsync(const Napi::CallbackInfo& info) {
  HashArgs args;
  if (!ParseHashArgs(info, &args)) return info.Env().Undefined();
  auto* worker = new HashBlocksWorker(info.Env(), args);
  worker->Queue();
  return worker->Promise();
}

}  // namespace

void FioInitHashBlocks(Napi::Env env, Napi::Object exports) {
  exports.Set("hashBlocksSync", Napi::Function::New(env, HashBlocksSync, "hashBlocksSync"));
  exports.Set("hashBlocksAsync", Napi::Function::New(env, HashBlocksAsync, "hashBlocksAsync"));
  exports.Set("digestBytes", Napi::Number::New(env, kDigestBytes));
}
