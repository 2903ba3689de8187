//! Unix stream sockets with file-descriptor passing (SCM_RIGHTS), as libwayland uses them.

use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use napi::bindgen_prelude::{Int32ArraySlice, Uint8ArraySlice};
use napi_derive::napi;

use crate::error::{cvt, errno_error, error, invalid, last_errno, Result};
use crate::fd::set_nonblocking;

/// Most fds sent or received with one message: libwayland's limit (`MAX_FDS_OUT`).
pub const MAX_FDS: usize = 28;

const FD_BYTES: usize = MAX_FDS * size_of::<RawFd>();
/// Room for one SCM_RIGHTS header with `MAX_FDS` fds: CMSG_SPACE(28 * 4) = 128 bytes on 64-bit
/// and 32-bit Linux. Kept as u64 words for the alignment `cmsghdr` needs.
const CMSG_WORDS: usize = 16;

fn cmsg_space(bytes: usize) -> usize {
  // SAFETY: CMSG_SPACE is pure arithmetic.
  unsafe { libc::CMSG_SPACE(bytes as u32) as usize }
}

/// A `sockaddr_un` for `path`, rejecting paths that do not fit `sun_path` with their NUL.
pub(crate) fn unix_addr(path: &str) -> Result<(libc::sockaddr_un, libc::socklen_t)> {
  // SAFETY: sockaddr_un is plain old data, valid when zeroed.
  let mut addr: libc::sockaddr_un = unsafe { zeroed() };
  addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
  let bytes = path.as_bytes();
  if bytes.contains(&0) {
    return Err(invalid("socket path must not contain NUL"));
  }
  if bytes.is_empty() || bytes.len() >= addr.sun_path.len() {
    return Err(error(
      "ENAMETOOLONG",
      format!(
        "socket path must be 1 to {} bytes, got {} bytes: {path}",
        addr.sun_path.len() - 1,
        bytes.len()
      ),
    ));
  }
  for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
    *dst = *src as libc::c_char;
  }
  let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1;
  Ok((addr, len as libc::socklen_t))
}

/// A new `AF_UNIX` `SOCK_STREAM` socket with the given extra type flags.
pub(crate) fn stream_socket(flags: libc::c_int) -> Result<OwnedFd> {
  // SAFETY: socket() has no memory-safety preconditions.
  let raw = cvt(
    unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | flags, 0) },
    "socket",
  )?;
  // SAFETY: socket() returned a new fd that nothing else owns.
  Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Connects to the Unix socket at `path` (blocking connect), then makes the socket non-blocking.
pub fn connect_unix(path: &str) -> Result<OwnedFd> {
  let (addr, len) = unix_addr(path)?;
  let sock = stream_socket(libc::SOCK_CLOEXEC)?;
  loop {
    // SAFETY: `addr` is a valid sockaddr_un of `len` bytes that outlives the call.
    let ret = unsafe { libc::connect(sock.as_raw_fd(), (&addr as *const libc::sockaddr_un).cast(), len) };
    if ret == 0 {
      break;
    }
    match last_errno() {
      // An interrupted connect goes on in the background; wait for it by retrying.
      libc::EINTR | libc::EALREADY => continue,
      libc::EISCONN => break,
      errno => return Err(errno_error(&format!("connect {path}"), errno)),
    }
  }
  set_nonblocking(sock.as_raw_fd())?;
  Ok(sock)
}

/// `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK)`.
pub fn pair() -> Result<(OwnedFd, OwnedFd)> {
  let mut fds = [-1 as RawFd; 2];
  let flags = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
  // SAFETY: `fds` has room for the two fds socketpair writes.
  let ret = unsafe { libc::socketpair(libc::AF_UNIX, flags, 0, fds.as_mut_ptr()) };
  cvt(ret, "socketpair")?;
  // SAFETY: socketpair returned two new fds that nothing else owns.
  Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// One `sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT)` of `data` with `fds` attached as SCM_RIGHTS.
///
/// Returns the number of bytes written (possibly fewer than `data.len()`; the fds then went with
/// the first of them), or `None` when the socket buffer is full (nothing and no fd was sent).
/// The fds stay owned by the caller.
pub fn send_with_fds(fd: RawFd, data: &[u8], fds: &[RawFd]) -> Result<Option<usize>> {
  if fds.len() > MAX_FDS {
    return Err(invalid(format!(
      "sendmsg: at most {MAX_FDS} fds per message, got {}",
      fds.len()
    )));
  }
  if data.is_empty() && !fds.is_empty() {
    // A zero-length write on a stream socket carries no ancillary data at all.
    return Err(invalid(
      "sendmsg: fds need at least one byte of data to travel with",
    ));
  }
  if let Some(bad) = fds.iter().find(|&&f| f < 0) {
    return Err(errno_error(&format!("sendmsg (fd {bad})"), libc::EBADF));
  }
  let mut iov = libc::iovec {
    iov_base: data.as_ptr() as *mut libc::c_void,
    iov_len: data.len(),
  };
  let mut control = [0u64; CMSG_WORDS];
  // SAFETY: msghdr is plain old data, valid when zeroed.
  let mut msg: libc::msghdr = unsafe { zeroed() };
  msg.msg_iov = &mut iov;
  msg.msg_iovlen = 1;
  if !fds.is_empty() {
    let bytes = std::mem::size_of_val(fds);
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = cmsg_space(bytes) as _;
    // SAFETY: msg_control points to `control`, which is 8-byte aligned and CMSG_SPACE(FD_BYTES)
    // bytes long, at least CMSG_SPACE(bytes); so CMSG_FIRSTHDR is non-null and the header plus
    // `bytes` bytes of data after CMSG_DATA lie inside `control`.
    unsafe {
      let cmsg = libc::CMSG_FIRSTHDR(&msg);
      (*cmsg).cmsg_level = libc::SOL_SOCKET;
      (*cmsg).cmsg_type = libc::SCM_RIGHTS;
      (*cmsg).cmsg_len = libc::CMSG_LEN(bytes as u32) as _;
      std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), bytes);
    }
  }
  // SAFETY: `msg` points to `iov` (over `data`) and `control`, all alive for the call.
  unsafe { send_nonblocking(fd, &msg) }
}

/// One non-blocking `sendmsg` of `msg`, retried on EINTR: the bytes written, or `None` if the
/// socket buffer is full.
///
/// # Safety
/// Every pointer in `msg` must be valid for the call; the kernel only reads them.
unsafe fn send_nonblocking(fd: RawFd, msg: &libc::msghdr) -> Result<Option<usize>> {
  loop {
    // SAFETY: per the contract.
    let ret = unsafe { libc::sendmsg(fd, msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) };
    if ret >= 0 {
      return Ok(Some(ret as usize));
    }
    match last_errno() {
      libc::EINTR => continue,
      libc::EAGAIN => return Ok(None),
      errno => return Err(errno_error("sendmsg", errno)),
    }
  }
}

/// Parts one gather write takes at most (IOV_MAX on Linux).
pub const MAX_PARTS: usize = 1024;

/// One non-blocking `sendmsg` of `parts` in order, as one stream of bytes (a gather write: no
/// copy into one buffer). Returns the bytes written, maybe fewer than the sum, or `None` if the
/// socket buffer is full.
pub fn send_parts_raw<P: std::ops::Deref<Target = [u8]>>(fd: RawFd, parts: &[P]) -> Result<Option<usize>> {
  if parts.len() > MAX_PARTS {
    return Err(invalid(format!(
      "sendmsg: at most {MAX_PARTS} parts per write, got {}",
      parts.len()
    )));
  }
  let iov: Vec<libc::iovec> = parts
    .iter()
    .map(|p| libc::iovec {
      iov_base: p.as_ptr() as *mut libc::c_void,
      iov_len: p.len(),
    })
    .collect();
  // SAFETY: msghdr is plain old data, valid when zeroed.
  let mut msg: libc::msghdr = unsafe { zeroed() };
  msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
  msg.msg_iovlen = iov.len() as _;
  // SAFETY: `msg` points to `iov`, whose entries point into `parts`, all alive for the call.
  unsafe { send_nonblocking(fd, &msg) }
}

/// Sends `parts` in order with one non-blocking sendmsg, without joining them first (at most
/// 1024). Returns the bytes written, maybe fewer than their sum, or -1 if the socket buffer is
/// full (nothing was sent).
#[napi]
pub fn send_parts(fd: i32, parts: Vec<Uint8ArraySlice<'_>>) -> Result<i64> {
  Ok(match send_parts_raw(fd, &parts)? {
    Some(n) => n as i64,
    None => -1,
  })
}

/// What one `recvmsg` got: `bytes == 0` means the peer closed the connection.
pub struct Received {
  pub bytes: usize,
  pub fds: Vec<OwnedFd>,
}

/// One `recvmsg(MSG_DONTWAIT | MSG_CMSG_CLOEXEC)` into `buf`, with room for `MAX_FDS` fds.
/// Returns `None` when nothing is available yet. If the peer sent more fds than fit (MSG_CTRUNC),
/// the fds that did arrive are closed and an error is returned: the connection is unusable.
pub fn recv_with_fds(fd: RawFd, buf: &mut [u8]) -> Result<Option<Received>> {
  let mut iov = libc::iovec {
    iov_base: buf.as_mut_ptr().cast(),
    iov_len: buf.len(),
  };
  let mut control = [0u64; CMSG_WORDS];
  debug_assert!(size_of::<[u64; CMSG_WORDS]>() >= cmsg_space(FD_BYTES));
  // SAFETY: msghdr is plain old data, valid when zeroed.
  let mut msg: libc::msghdr = unsafe { zeroed() };
  msg.msg_iov = &mut iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.as_mut_ptr().cast();
  msg.msg_controllen = size_of::<[u64; CMSG_WORDS]>() as _;
  let bytes = loop {
    // SAFETY: `msg` points to `iov` (over `buf`, writable) and `control`, alive for the call.
    let ret = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) };
    if ret >= 0 {
      break ret as usize;
    }
    match last_errno() {
      libc::EINTR => continue,
      libc::EAGAIN => return Ok(None),
      errno => return Err(errno_error("recvmsg", errno)),
    }
  };
  let mut fds = Vec::new();
  // SAFETY: the kernel filled `control` with `msg_controllen` bytes of well-formed cmsg headers;
  // CMSG_FIRSTHDR/CMSG_NXTHDR stay within that length, and each SCM_RIGHTS payload holds
  // (cmsg_len - CMSG_LEN(0)) / 4 fds, read unaligned. Each fd was installed for us by the kernel
  // and is owned by nothing else.
  unsafe {
    let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
    while !cmsg.is_null() {
      if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
        let data = libc::CMSG_DATA(cmsg);
        let payload = (*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
        for i in 0..payload / size_of::<RawFd>() {
          let raw = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
          fds.push(OwnedFd::from_raw_fd(raw));
        }
      }
      cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
    }
  }
  if msg.msg_flags & libc::MSG_CTRUNC != 0 {
    let got = fds.len();
    drop(fds);
    return Err(error(
      "EMSGSIZE",
      format!(
        "recvmsg: the peer sent more fds than fit ({MAX_FDS} at most), the {got} that arrived were closed (MSG_CTRUNC)"
      ),
    ));
  }
  Ok(Some(Received { bytes, fds }))
}

// ---- JavaScript API ----

/// Connects to the Unix socket at `path`; returns a connected, non-blocking, close-on-exec fd.
#[napi]
pub fn unix_connect(path: String) -> Result<i32> {
  Ok(connect_unix(&path)?.into_raw_fd())
}

/// Sends `data` with `fds` (at most 28) as SCM_RIGHTS in one non-blocking sendmsg. Returns the
/// bytes written, or -1 if the socket buffer is full (then nothing was sent, fds included).
/// The fds stay owned by the caller.
#[napi]
pub fn send_msg(fd: i32, data: &[u8], fds: Vec<i32>) -> Result<i64> {
  Ok(match send_with_fds(fd, data, &fds)? {
    Some(n) => n as i64,
    None => -1,
  })
}

/// Receives into `buf` from byte `offset` on, with room for 28 fds, in one non-blocking recvmsg.
/// Returns the bytes read (0: the peer closed) or -1 if nothing is available yet. The fds
/// received (owned by the caller) go to the start of `fds`, which has room for 28, followed by
/// -1. Nothing is allocated for JS: a socket read per wake-up stays a plain call.
#[napi]
pub fn recv_msg_into(
  fd: i32,
  mut buf: Uint8ArraySlice<'_>,
  offset: u32,
  mut fds: Int32ArraySlice<'_>,
) -> Result<i64> {
  // SAFETY: the views' memory stays valid during this synchronous call and nothing else
  // accesses it meanwhile (JS is blocked on us).
  let (buf, fds) = unsafe { (buf.as_mut(), fds.as_mut()) };
  if fds.len() < MAX_FDS {
    return Err(invalid(format!(
      "recvMsgInto: room for {} fds, {MAX_FDS} needed",
      fds.len()
    )));
  }
  // No room is refused too: a read of no bytes would look like the peer closing.
  let len = buf.len();
  let Some(buf) = buf.get_mut(offset as usize..).filter(|b| !b.is_empty()) else {
    return Err(invalid(format!(
      "recvMsgInto: no room at offset {offset} of a buffer of {len} bytes"
    )));
  };
  // Bytes a native hook read and left (reads.rs) come before the socket's.
  let received = match crate::reads::take_kept(fd, buf) {
    Some((bytes, fds)) => Received { bytes, fds },
    None => match recv_with_fds(fd, buf)? {
      Some(received) => received,
      None => return Ok(-1),
    },
  };
  let n = received.fds.len();
  for (slot, f) in fds.iter_mut().zip(received.fds) {
    *slot = f.into_raw_fd();
  }
  if n < fds.len() {
    fds[n] = -1;
  }
  Ok(received.bytes as i64)
}

/// A connected pair of non-blocking, close-on-exec Unix stream sockets.
#[napi(ts_return_type = "[number, number]")]
pub fn socket_pair() -> Result<Vec<i32>> {
  let (a, b) = pair()?;
  Ok(vec![a.into_raw_fd(), b.into_raw_fd()])
}

/// Bytes written to socket `fd` that the peer has not acknowledged yet (SIOCOUTQ): for TCP,
/// not sent yet or sent and in flight (in a queue on the way, the link's own included); for a
/// Unix socket, not read by the peer. What the writer sees of a link slower than itself.
pub fn unacked_bytes(fd: RawFd) -> Result<usize> {
  let mut n: libc::c_int = 0;
  // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through the pointer, which points to `n`.
  let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ as _, &mut n as *mut libc::c_int) };
  cvt(r, "ioctl(SIOCOUTQ)")?;
  Ok(n.max(0) as usize)
}

/// Bytes socket `fd` takes now without blocking, about: its send buffer (SO_SNDBUF, as the kernel
/// counts it) less what waits in it (SIOCOUTQ). 0 when it cannot tell.
pub fn send_room(fd: RawFd) -> usize {
  let mut size: libc::c_int = 0;
  let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
  // SAFETY: SO_SNDBUF writes one int to `size`, whose length `len` gives.
  let r = unsafe {
    libc::getsockopt(
      fd,
      libc::SOL_SOCKET,
      libc::SO_SNDBUF,
      (&mut size as *mut libc::c_int).cast(),
      &mut len,
    )
  };
  if r != 0 {
    return 0;
  }
  (size.max(0) as usize).saturating_sub(unacked_bytes(fd).unwrap_or(usize::MAX))
}

/// Bytes written to socket `fd` that the peer has not acknowledged yet (see `unacked_bytes`).
#[napi]
pub fn socket_unacked_bytes(fd: i32) -> Result<f64> {
  Ok(unacked_bytes(fd)? as f64)
}

/// Bytes of TCP socket `fd` the peer has acknowledged since the connection started
/// (`tcpi_bytes_acked` of TCP_INFO): what the link delivered, at the rate it delivered it.
pub fn bytes_acked(fd: RawFd) -> Result<u64> {
  // SAFETY: tcp_info is plain integers; all zeros is a valid value.
  let mut info: libc::tcp_info = unsafe { zeroed() };
  let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
  // SAFETY: getsockopt writes at most `len` bytes into `info`, which is that large, and sets `len`.
  let rc = unsafe {
    libc::getsockopt(
      fd,
      libc::IPPROTO_TCP,
      libc::TCP_INFO,
      &mut info as *mut libc::tcp_info as *mut libc::c_void,
      &mut len,
    )
  };
  cvt(rc, "getsockopt(TCP_INFO)")?;
  let end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + size_of::<u64>();
  if (len as usize) < end {
    return Err(error(
      "ENOTSUP",
      "getsockopt(TCP_INFO): this kernel does not report tcpi_bytes_acked",
    ));
  }
  Ok(info.tcpi_bytes_acked)
}

/// Bytes of TCP socket `fd` the peer has acknowledged so far (see `bytes_acked`).
#[napi]
pub fn socket_bytes_acked(fd: i32) -> Result<f64> {
  Ok(bytes_acked(fd)? as f64)
}

/// Readiness of socket `fd` reported only once `bytes` are queued (SO_RCVLOWAT): a reader that
/// waits for the rest of a message is not woken for each segment of it. TCP caps it at half the
/// receive buffer's limit and grows the buffer to hold it; an end of stream or an error is
/// reported whatever the mark.
pub fn set_low_water(fd: RawFd, bytes: u32) -> Result<()> {
  let v = bytes.clamp(1, i32::MAX as u32) as libc::c_int;
  // SAFETY: a valid c_int option value of the size given.
  let ret = unsafe {
    libc::setsockopt(
      fd,
      libc::SOL_SOCKET,
      libc::SO_RCVLOWAT,
      (&v as *const libc::c_int).cast(),
      size_of::<libc::c_int>() as libc::socklen_t,
    )
  };
  cvt(ret, "setsockopt(SO_RCVLOWAT)")?;
  Ok(())
}

/// Readiness of socket `fd` reported only once `bytes` are queued (see `set_low_water`).
#[napi]
pub fn socket_low_water(fd: i32, bytes: u32) -> Result<()> {
  set_low_water(fd, bytes)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::fd::{create_memfd, size_of as file_size};

  fn read_fd_flags(fd: RawFd) -> i32 {
    // SAFETY: plain fcntl query.
    unsafe { libc::fcntl(fd, libc::F_GETFD) }
  }

  #[test]
  fn parts_arrive_in_order_as_one_stream_and_a_full_buffer_takes_a_prefix() {
    let (a, b) = pair().unwrap();
    let (x, y, z) = (b"first ".to_vec(), vec![7u8; 3000], b" last".to_vec());
    let n = send_parts_raw(a.as_raw_fd(), &[&x[..], &y[..], &[], &z[..]]).unwrap();
    assert_eq!(n, Some(x.len() + y.len() + z.len()));
    let mut buf = vec![0u8; 8192];
    let got = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().unwrap();
    assert_eq!(
      &buf[..got.bytes],
      [x.as_slice(), y.as_slice(), z.as_slice()].concat().as_slice()
    );
    // Fill the socket: a write then takes what fits, a prefix of the parts, then nothing.
    let big = vec![1u8; 1 << 20];
    let mut sent = 0;
    while let Some(n) = send_parts_raw(a.as_raw_fd(), &[&big[..1000], &big[..]]).unwrap() {
      assert!(n <= 1000 + big.len());
      sent += n;
    }
    assert!(sent > 0);
    let too_many: Vec<&[u8]> = vec![b"x"; MAX_PARTS + 1];
    assert!(send_parts_raw(a.as_raw_fd(), &too_many).is_err());
  }

  #[test]
  fn unacked_bytes_of_a_tcp_socket_whose_peer_stops_reading() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut writer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut reader, _) = listener.accept().unwrap();
    let fd = writer.as_raw_fd();
    assert_eq!(unacked_bytes(fd).unwrap(), 0);
    // The reader reads nothing: its window fills, and what is written after waits unacknowledged.
    writer.set_nonblocking(true).unwrap();
    let chunk = vec![1u8; 1 << 16];
    let mut written = 0usize;
    while let Ok(n) = writer.write(&chunk) {
      written += n;
    }
    let unacked = unacked_bytes(fd).unwrap();
    assert!(
      unacked > 0 && unacked < written,
      "{unacked} unacknowledged of {written}"
    );
    let acked = bytes_acked(fd).unwrap() as usize;
    assert!(
      acked > 0 && acked <= written - unacked + 1,
      "{acked} acknowledged, {unacked} not, of {written}"
    );
    // Everything read: everything was acknowledged on the way.
    let mut buf = vec![0u8; 1 << 16];
    let mut read = 0usize;
    while read < written {
      read += reader.read(&mut buf).unwrap();
    }
    let mut left = unacked_bytes(fd).unwrap();
    for _ in 0..100 {
      if left == 0 {
        break;
      }
      std::thread::sleep(std::time::Duration::from_millis(10));
      left = unacked_bytes(fd).unwrap();
    }
    assert_eq!(left, 0);
    // Everything acknowledged (the count may include the SYN).
    assert!((written..=written + 1).contains(&(bytes_acked(fd).unwrap() as usize)));
    // A Unix socket: bytes the peer has not read.
    let (a, b) = pair().unwrap();
    assert_eq!(
      send_with_fds(a.as_raw_fd(), &[7u8; 1000], &[]).unwrap(),
      Some(1000)
    );
    assert!(unacked_bytes(a.as_raw_fd()).unwrap() >= 1000);
    let mut small = [0u8; 2000];
    assert_eq!(
      recv_with_fds(b.as_raw_fd(), &mut small).unwrap().unwrap().bytes,
      1000
    );
    assert_eq!(unacked_bytes(a.as_raw_fd()).unwrap(), 0);
  }

  #[test]
  fn a_tcp_socket_with_a_low_water_mark_is_readable_once_that_much_is_queued_or_at_its_end() {
    // SAFETY: plain socket calls on fds made here.
    unsafe {
      let listener = OwnedFd::from_raw_fd(libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0));
      let mut addr: libc::sockaddr_in = zeroed();
      addr.sin_family = libc::AF_INET as libc::sa_family_t;
      addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
      let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
      assert_eq!(
        libc::bind(
          listener.as_raw_fd(),
          (&addr as *const libc::sockaddr_in).cast(),
          len
        ),
        0
      );
      assert_eq!(libc::listen(listener.as_raw_fd(), 1), 0);
      let mut bound = len;
      libc::getsockname(
        listener.as_raw_fd(),
        (&mut addr as *mut libc::sockaddr_in).cast(),
        &mut bound,
      );
      let client = OwnedFd::from_raw_fd(libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0));
      assert_eq!(
        libc::connect(
          client.as_raw_fd(),
          (&addr as *const libc::sockaddr_in).cast(),
          len
        ),
        0
      );
      let server = OwnedFd::from_raw_fd(libc::accept(listener.as_raw_fd(), ptr_null(), ptr_null()));
      let readable = |fd: RawFd| {
        let mut p = libc::pollfd {
          fd,
          events: libc::POLLIN,
          revents: 0,
        };
        libc::poll(&mut p, 1, 50) == 1 && p.revents & libc::POLLIN != 0
      };
      set_low_water(server.as_raw_fd(), 1000).unwrap();
      let part = [7u8; 600];
      assert_eq!(
        libc::send(client.as_raw_fd(), part.as_ptr().cast(), part.len(), 0),
        600
      );
      assert!(!readable(server.as_raw_fd()), "600 of 1000 bytes");
      assert_eq!(
        libc::send(client.as_raw_fd(), part.as_ptr().cast(), part.len(), 0),
        600
      );
      assert!(readable(server.as_raw_fd()), "1200 of 1000 bytes");
      // Back to 1, then a mark above what will ever come: the end of the stream is reported.
      set_low_water(server.as_raw_fd(), 1).unwrap();
      let mut buf = [0u8; 2000];
      assert_eq!(
        libc::recv(server.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0),
        1200
      );
      set_low_water(server.as_raw_fd(), 1000).unwrap();
      assert!(!readable(server.as_raw_fd()), "nothing queued");
      drop(client);
      assert!(readable(server.as_raw_fd()), "the peer's end");
    }
  }

  fn ptr_null<T>() -> *mut T {
    std::ptr::null_mut()
  }

  #[test]
  fn bytes_and_fds_cross_a_socketpair() {
    let (a, b) = pair().unwrap();
    let memfds: Vec<OwnedFd> = (0..3).map(|i| create_memfd("t", 100 + i).unwrap()).collect();
    let raw: Vec<RawFd> = memfds.iter().map(|f| f.as_raw_fd()).collect();
    assert_eq!(send_with_fds(a.as_raw_fd(), b"hello", &raw).unwrap(), Some(5));
    let mut buf = [0u8; 64];
    let got = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().unwrap();
    assert_eq!(&buf[..got.bytes], b"hello");
    assert_eq!(got.fds.len(), 3);
    for (i, fd) in got.fds.iter().enumerate() {
      assert_eq!(file_size(fd.as_raw_fd()).unwrap(), 100 + i as u64);
      assert_eq!(read_fd_flags(fd.as_raw_fd()) & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
    // The sender's fds are still open and still its own.
    assert_eq!(file_size(raw[0]).unwrap(), 100);
  }

  #[test]
  fn empty_socket_reads_none_and_closed_peer_reads_zero() {
    let (a, b) = pair().unwrap();
    let mut buf = [0u8; 16];
    assert!(recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().is_none());
    drop(a);
    let got = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().unwrap();
    assert_eq!(got.bytes, 0);
    assert!(got.fds.is_empty());
  }

  #[test]
  fn a_full_socket_buffer_gives_none() {
    let (a, _b) = pair().unwrap();
    let chunk = vec![7u8; 65536];
    let mut full = false;
    for _ in 0..10_000 {
      match send_with_fds(a.as_raw_fd(), &chunk, &[]).unwrap() {
        Some(n) => assert!(n > 0),
        None => {
          full = true;
          break;
        }
      }
    }
    assert!(full, "the socket buffer never filled up");
  }

  #[test]
  fn more_than_28_fds_are_refused_and_28_pass() {
    let (a, b) = pair().unwrap();
    let memfd = create_memfd("t", 1).unwrap();
    let too_many = vec![memfd.as_raw_fd(); MAX_FDS + 1];
    let e = send_with_fds(a.as_raw_fd(), b"x", &too_many).unwrap_err();
    assert_eq!(e.status.0, "EINVAL");
    assert!(e.reason.contains("28"), "{}", e.reason);
    let max = vec![memfd.as_raw_fd(); MAX_FDS];
    assert_eq!(send_with_fds(a.as_raw_fd(), b"x", &max).unwrap(), Some(1));
    let mut buf = [0u8; 4];
    let got = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().unwrap();
    assert_eq!(got.fds.len(), MAX_FDS);
  }

  #[test]
  fn too_many_incoming_fds_are_closed_and_reported() {
    // The kernel allows up to 253 fds per message; a non-libwayland peer could send 40.
    let (a, b) = pair().unwrap();
    let memfd = create_memfd("ctrunc-probe", 1).unwrap();
    assert_eq!(open_fds_named("ctrunc-probe"), 1);
    let fds = [memfd.as_raw_fd(); 40];
    let mut control = vec![0u64; 64];
    let bytes = fds.len() * 4;
    let mut iov = libc::iovec {
      iov_base: b"x".as_ptr() as *mut _,
      iov_len: 1,
    };
    // SAFETY: same construction as in send_with_fds, with a control buffer sized for 40 fds.
    unsafe {
      let mut msg: libc::msghdr = zeroed();
      msg.msg_iov = &mut iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.as_mut_ptr().cast();
      msg.msg_controllen = cmsg_space(bytes) as _;
      let cmsg = libc::CMSG_FIRSTHDR(&msg);
      (*cmsg).cmsg_level = libc::SOL_SOCKET;
      (*cmsg).cmsg_type = libc::SCM_RIGHTS;
      (*cmsg).cmsg_len = libc::CMSG_LEN(bytes as u32) as _;
      std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), bytes);
      assert_eq!(libc::sendmsg(a.as_raw_fd(), &msg, 0), 1);
    }
    let mut buf = [0u8; 4];
    let e = recv_with_fds(b.as_raw_fd(), &mut buf)
      .err()
      .expect("MSG_CTRUNC must be an error");
    assert_eq!(e.status.0, "EMSGSIZE");
    // No fd leaked: only our own fd refers to the memfd.
    assert_eq!(open_fds_named("ctrunc-probe"), 1);
  }

  /// Number of fds of this process whose target names the memfd `name`.
  fn open_fds_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/fd")
      .unwrap()
      .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
      .filter(|target| target.to_string_lossy().contains(name))
      .count()
  }

  #[test]
  fn zero_bytes_with_fds_is_refused() {
    let (a, _b) = pair().unwrap();
    let memfd = create_memfd("t", 1).unwrap();
    assert_eq!(
      send_with_fds(a.as_raw_fd(), b"", &[memfd.as_raw_fd()])
        .unwrap_err()
        .status
        .0,
      "EINVAL"
    );
    assert_eq!(send_with_fds(a.as_raw_fd(), b"", &[]).unwrap(), Some(0));
  }

  #[test]
  fn sending_to_a_closed_peer_is_epipe_without_a_signal() {
    let (a, b) = pair().unwrap();
    drop(b);
    let e = send_with_fds(a.as_raw_fd(), b"x", &[]).unwrap_err();
    assert_eq!(e.status.0, "EPIPE");
    assert_eq!(e.reason, "sendmsg: Broken pipe (EPIPE)");
  }

  #[test]
  fn overlong_paths_are_refused() {
    let long = "/tmp/".to_owned() + &"x".repeat(200);
    assert_eq!(connect_unix(&long).unwrap_err().status.0, "ENAMETOOLONG");
  }

  #[test]
  fn connecting_to_nothing_names_the_path() {
    let e = connect_unix("/nonexistent-dir/sock").unwrap_err();
    assert_eq!(e.status.0, "ENOENT");
    assert!(
      e.reason.starts_with("connect /nonexistent-dir/sock: "),
      "{}",
      e.reason
    );
  }
}
