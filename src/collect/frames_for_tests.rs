//! Replies for unit tests, decoded from the bytes a server sends, as fred decodes
//! them: the parsers of [`super::reply`] and [`super::moves`] see real frames.

use bytes::BytesMut;
use fred::types::Resp3Frame;

/// A RESP2 reply, decoded and converted to a RESP3 frame exactly as fred's codec does.
pub(super) fn resp2(bytes: &str) -> Resp3Frame {
    let mut buf = BytesMut::from(bytes);
    let (frame, _, _) = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf).unwrap().unwrap();
    frame.into_resp3()
}

/// A RESP3 reply, decoded as fred does on a `HELLO 3` connection.
pub(super) fn resp3(bytes: &str) -> Resp3Frame {
    let mut buf = BytesMut::from(bytes);
    let (frame, _, _) = redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut buf).unwrap().unwrap();
    frame
}

/// `s` as a bulk string on the wire.
pub(super) fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}
