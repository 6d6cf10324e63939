{
  "targets": [
    {
      "target_name": "fileio",
      "sources": ["fileio.cc", "hash-blocks.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_FILE_OFFSET_BITS=64"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "libraries": ["-lxxhash"]
    }
  ]
}
