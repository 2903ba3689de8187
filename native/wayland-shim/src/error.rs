//! Errors thrown to JavaScript: an `Error` whose message names the failing call and the errno text
//! ("sendmsg: Broken pipe (EPIPE)") and whose `code` property is the errno name ("EPIPE").

use std::io;

/// The `code` property of a thrown error: an errno name such as `"EPIPE"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
  fn as_ref(&self) -> &str {
    self.0
  }
}

/// napi-rs turns `Error<Code>` into a JS `Error` with `code` set to the `Code`.
pub type Error = napi::Error<Code>;
pub type Result<T> = std::result::Result<T, Error>;

/// An error with an explicit code and message, for failures that are not a failed syscall.
pub fn error(code: &'static str, message: impl Into<String>) -> Error {
  Error::new(Code(code), message.into())
}

/// An invalid argument (`code` EINVAL).
pub fn invalid(message: impl Into<String>) -> Error {
  error("EINVAL", message)
}

/// The error of a failed call with the given errno; `call` names the syscall, optionally with its
/// subject ("connect /run/user/0/wayland-0").
pub fn errno_error(call: &str, errno: i32) -> Error {
  let text = strerror(errno);
  match errno_name(errno) {
    Some(name) => Error::new(Code(name), format!("{call}: {text} ({name})")),
    None => Error::new(Code("EUNKNOWN"), format!("{call}: {text} (errno {errno})")),
  }
}

/// The error for the errno left by the last failed call on this thread.
pub fn last_error(call: &str) -> Error {
  errno_error(call, last_errno())
}

pub fn last_errno() -> i32 {
  io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The errno of an error built by [`errno_error`], if its code names one.
pub fn errno_of(error: &Error) -> Option<i32> {
  ERRNO_NAMES
    .iter()
    .find(|(_, name)| *name == error.status.0)
    .map(|(n, _)| *n)
}

fn strerror(errno: i32) -> String {
  // std formats OS errors as "<strerror text> (os error N)"; keep the text only.
  let full = io::Error::from_raw_os_error(errno).to_string();
  match full.rfind(" (os error ") {
    Some(at) => full[..at].to_owned(),
    None => full,
  }
}

pub fn errno_name(errno: i32) -> Option<&'static str> {
  ERRNO_NAMES
    .iter()
    .find(|(n, _)| *n == errno)
    .map(|(_, name)| *name)
}

macro_rules! errno_table {
  ($($name:ident),* $(,)?) => {
    const ERRNO_NAMES: &[(i32, &str)] = &[$((libc::$name, stringify!($name))),*];
  };
}

// EAGAIN and EWOULDBLOCK, EDEADLK and EDEADLOCK, EOPNOTSUPP and ENOTSUP share a value on Linux:
// the first name listed wins.
errno_table!(
  EPERM,
  ENOENT,
  ESRCH,
  EINTR,
  EIO,
  ENXIO,
  E2BIG,
  ENOEXEC,
  EBADF,
  ECHILD,
  EAGAIN,
  ENOMEM,
  EACCES,
  EFAULT,
  ENOTBLK,
  EBUSY,
  EEXIST,
  EXDEV,
  ENODEV,
  ENOTDIR,
  EISDIR,
  EINVAL,
  ENFILE,
  EMFILE,
  ENOTTY,
  ETXTBSY,
  EFBIG,
  ENOSPC,
  ESPIPE,
  EROFS,
  EMLINK,
  EPIPE,
  EDOM,
  ERANGE,
  EDEADLK,
  ENAMETOOLONG,
  ENOLCK,
  ENOSYS,
  ENOTEMPTY,
  ELOOP,
  ENOMSG,
  EIDRM,
  ECHRNG,
  EL2NSYNC,
  EL3HLT,
  EL3RST,
  ELNRNG,
  EUNATCH,
  ENOCSI,
  EL2HLT,
  EBADE,
  EBADR,
  EXFULL,
  ENOANO,
  EBADRQC,
  EBADSLT,
  EBFONT,
  ENOSTR,
  ENODATA,
  ETIME,
  ENOSR,
  ENONET,
  ENOPKG,
  EREMOTE,
  ENOLINK,
  EADV,
  ESRMNT,
  ECOMM,
  EPROTO,
  EMULTIHOP,
  EDOTDOT,
  EBADMSG,
  EOVERFLOW,
  ENOTUNIQ,
  EBADFD,
  EREMCHG,
  ELIBACC,
  ELIBBAD,
  ELIBSCN,
  ELIBMAX,
  ELIBEXEC,
  EILSEQ,
  ERESTART,
  ESTRPIPE,
  EUSERS,
  ENOTSOCK,
  EDESTADDRREQ,
  EMSGSIZE,
  EPROTOTYPE,
  ENOPROTOOPT,
  EPROTONOSUPPORT,
  ESOCKTNOSUPPORT,
  EOPNOTSUPP,
  EPFNOSUPPORT,
  EAFNOSUPPORT,
  EADDRINUSE,
  EADDRNOTAVAIL,
  ENETDOWN,
  ENETUNREACH,
  ENETRESET,
  ECONNABORTED,
  ECONNRESET,
  ENOBUFS,
  EISCONN,
  ENOTCONN,
  ESHUTDOWN,
  ETOOMANYREFS,
  ETIMEDOUT,
  ECONNREFUSED,
  EHOSTDOWN,
  EHOSTUNREACH,
  EALREADY,
  EINPROGRESS,
  ESTALE,
  EUCLEAN,
  ENOTNAM,
  ENAVAIL,
  EISNAM,
  EREMOTEIO,
  EDQUOT,
  ENOMEDIUM,
  EMEDIUMTYPE,
  ECANCELED,
  ENOKEY,
  EKEYEXPIRED,
  EKEYREVOKED,
  EKEYREJECTED,
  EOWNERDEAD,
  ENOTRECOVERABLE,
  ERFKILL,
  EHWPOISON,
);

/// Checks a C return value: `-1` becomes the errno error for `call`.
pub fn cvt(ret: libc::c_int, call: &str) -> Result<libc::c_int> {
  if ret == -1 {
    Err(last_error(call))
  } else {
    Ok(ret)
  }
}

/// Like [`cvt`], retrying while the call is interrupted by a signal (EINTR).
pub fn cvt_retry(call: &str, mut f: impl FnMut() -> libc::c_int) -> Result<libc::c_int> {
  loop {
    let ret = f();
    if ret != -1 {
      return Ok(ret);
    }
    let errno = last_errno();
    if errno != libc::EINTR {
      return Err(errno_error(call, errno));
    }
  }
}

/// Checks that a JS number is a usable byte size or offset: finite, integral, non-negative and
/// at most 2^53 - 1 (so that it converts exactly).
pub fn to_size(what: &str, value: f64) -> Result<u64> {
  if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= 9_007_199_254_740_991.0 {
    Ok(value as u64)
  } else {
    Err(invalid(format!(
      "{what} must be a non-negative integer, got {value}"
    )))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn errno_errors_name_the_call_the_text_and_the_errno() {
    let e = errno_error("sendmsg", libc::EPIPE);
    assert_eq!(e.status, Code("EPIPE"));
    assert_eq!(e.reason, "sendmsg: Broken pipe (EPIPE)");
    assert_eq!(errno_of(&e), Some(libc::EPIPE));
  }

  #[test]
  fn eagain_is_named_eagain() {
    assert_eq!(errno_name(libc::EWOULDBLOCK), Some("EAGAIN"));
  }

  #[test]
  fn sizes_must_be_exact_non_negative_integers() {
    assert_eq!(to_size("size", 4096.0).unwrap(), 4096);
    assert!(to_size("size", -1.0).is_err());
    assert!(to_size("size", 1.5).is_err());
    assert!(to_size("size", f64::NAN).is_err());
    assert!(to_size("size", 1e300).is_err());
  }
}
