package main

// version is the release this binary was built as, stamped by the image build with
// `-ldflags "-X main.version=$VERSION"`. Empty means unstamped: rulehook_build_info then reads the
// module version from the build info.
var version string
