//! The body of every answer: a few shared byte chunks sent in order.
//!
//! Large answers are made of parts that many requests share: a `/metrics` body
//! rendered once per snapshot, a slice of the slot entries encoded once per snapshot,
//! deflate blocks compressed once per snapshot. Keeping them as separate [`Bytes`]
//! (reference-counted, never copied) means a hundred clients that stop reading pin one
//! copy of the snapshot's text, not a hundred; hyper writes the chunks with vectored I/O.

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An answer's bytes, as chunks; empty chunks are dropped on the way in.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// What is left to send, in order.
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`, announced as the exact size (`Content-Length`).
    remaining: u64,
}

impl Body {
    pub(crate) fn from_chunks(chunks: impl IntoIterator<Item = Bytes>) -> Body {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Body { chunks, remaining }
    }

    /// All the bytes in one piece, for the few answers that are compressed per request.
    pub(crate) fn into_bytes(self) -> Bytes {
        match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks.into_iter().next().unwrap_or_default(),
            _ => self.chunks.iter().flat_map(|c| c.iter().copied()).collect::<Vec<u8>>().into(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::from_chunks([bytes])
    }
}

impl From<String> for Body {
    fn from(text: String) -> Body {
        Body::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Body {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.chunks.pop_front().map(|chunk| {
            this.remaining -= chunk.len() as u64;
            Ok(Frame::data(chunk))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn chunks_arrive_in_order_with_an_exact_size() {
        let body = Body::from_chunks([Bytes::from("ab"), Bytes::new(), Bytes::from("cde")]);
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), Some(5));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abcde");
        assert_eq!(Body::from_chunks([Bytes::from("x"), Bytes::from("y")]).into_bytes(), "xy");
        assert!(hyper::body::Body::is_end_stream(&Body::from_chunks([Bytes::new()])));
    }
}
