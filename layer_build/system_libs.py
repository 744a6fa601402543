"""Shared libraries Amazon Linux provides in a Lambda environment, per OS and architecture.

A binary's dependency is copied into the package unless it is on this list: the build
machine's own libraries say nothing about Lambda's. The lists are the sonames of the
provided.al2023 / provided.al2 base images' /lib64 (glibc, gcc runtime, and the few
libraries the minimal images carry); anything else a binary needs must ship with it.
"""

from __future__ import annotations

_GLIBC = {
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "libanl.so.1",
    "libnsl.so.1",
    "libBrokenLocale.so.1",
    "libmvec.so.1",
    "libnss_files.so.2",
    "libnss_dns.so.2",
    "libthread_db.so.1",
    "libmemusage.so",
    "libpcprofile.so",
    "libSegFault.so",
}
_LOADERS = {"x86_64": {"ld-linux-x86-64.so.2"}, "arm64": {"ld-linux-aarch64.so.1"}}
_COMMON = {
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libz.so.1",
    "libcap.so.2",
    "libacl.so.1",
    "libattr.so.1",
    "libselinux.so.1",
    "libpcre2-8.so.0",
    "liblzma.so.5",
    "libbz2.so.1",
    "libexpat.so.1",
    "libtinfo.so.6",
    "libncursesw.so.6",
    "libreadline.so.8",
    "libgmp.so.10",
    "libcurl.so.4",
    "libnghttp2.so.14",
    "libkeyutils.so.1",
    "libcom_err.so.2",
    "libkrb5.so.3",
    "libk5crypto.so.3",
    "libkrb5support.so.0",
    "libgssapi_krb5.so.2",
    "libsmartcols.so.1",
    "libblkid.so.1",
    "libmount.so.1",
    "libuuid.so.1",
    "libpopt.so.0",
    "libsepol.so.2",
    "libcrypt.so.2",
}
_PER_OS = {
    "al2023": {"libssl.so.3", "libcrypto.so.3", "libffi.so.8", "libsqlite3.so.0", "libzstd.so.1"},
    "al2": {
        "libssl.so.10",
        "libcrypto.so.10",
        "libffi.so.6",
        "libcrypt.so.1",
        "libsqlite3.so.0",
        "libnss3.so",
        "libsepol.so.1",
        "libreadline.so.6",
        "libtinfo.so.5",
        "libncursesw.so.5",
    },
}


def provided(os_name: str, arch: str) -> frozenset[str]:
    """Sonames the target's Lambda environment already has."""
    return frozenset(_GLIBC | _LOADERS[arch] | _COMMON | _PER_OS[os_name])
