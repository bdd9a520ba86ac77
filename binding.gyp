{
  "targets": [
    {
      "target_name": "blipcast",
      "sources": [
        "native/addon.cc",
        "native/aead.cc",
        "native/crc32c.cc",
        "native/header.cc",
        "native/socket.cc",
        "native/udp_socket.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"]
    }
  ]
}
