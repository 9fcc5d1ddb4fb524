//! The body of `InvokeWithResponseStream` (runtime-api.md §4.1): AWS event-stream messages,
//! zero or more `PayloadChunk`s then one `InvokeComplete`, each encoded and decoded with
//! smithy-rs's own codec (`aws-smithy-eventstream`, the one every AWS SDK for Rust uses), so
//! the prelude, header and CRC layout are the SDKs' by construction.

use aws_smithy_eventstream::frame::{write_message_to, DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The event-stream media type.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The last message of a stream: how the invoke ended (`InvokeResponseStreamUpdate` /
/// `InvokeWithResponseStreamCompleteEvent`); members that do not apply are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeComplete {
    /// The function's or the platform's error type, when the invoke failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// What went wrong: the error's body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
    /// The last 4 KB of the invoke's log, base64, when the caller asked for `Tail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_result: Option<String>,
}

/// One event of a response stream, as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes of the response, as the function wrote them.
    PayloadChunk(Bytes),
    /// The end of the stream.
    InvokeComplete(InvokeComplete),
}

/// An event-stream message that is not one of Lambda's, or a broken frame.
#[derive(Debug, thiserror::Error)]
pub enum EventStreamError {
    /// The frame's lengths or checksums are wrong.
    #[error("broken event-stream frame: {0}")]
    Frame(String),
    /// A well-formed message that is not a `PayloadChunk` or `InvokeComplete`.
    #[error("unexpected event-stream message (:message-type {message_type:?}, :event-type {event_type:?}): {payload}")]
    Unexpected {
        /// Its `:message-type` header (`exception` for a modeled error).
        message_type: Option<String>,
        /// Its `:event-type` header.
        event_type: Option<String>,
        /// Its payload, as text.
        payload: String,
    },
    /// `InvokeComplete` whose payload is not its JSON.
    #[error("InvokeComplete is not JSON: {0}")]
    Complete(serde_json::Error),
}

fn message(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Bytes {
    // Every message carries `:message-type`: the Rust SDK refuses one without it (smithy-rs
    // `parse_response_headers`, §4.1); cargo-lambda's encoder leaves it out.
    let m = Message::new(payload)
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String(content_type.into()),
        ));
    let mut out = BytesMut::new();
    // Writing fails only for a header name over 255 bytes or a payload over the frame's
    // u32 length; neither is possible here (three fixed headers, one runtime chunk).
    if let Err(e) = write_message_to(&m, &mut out) {
        unreachable!("an event-stream message of fixed headers encodes: {e}");
    }
    out.freeze()
}

/// A `PayloadChunk` carrying `chunk`.
pub fn payload_chunk(chunk: Bytes) -> Bytes {
    message("PayloadChunk", "application/octet-stream", chunk)
}

/// The `InvokeComplete` that ends a stream.
pub fn invoke_complete(done: &InvokeComplete) -> Bytes {
    let json = serde_json::to_vec(done).unwrap_or_else(|_| b"{}".to_vec());
    message("InvokeComplete", "application/json", json.into())
}

/// Reads events out of a response stream's bytes as they arrive, cut anywhere.
#[derive(Default)]
pub struct Decoder {
    frames: MessageFrameDecoder,
    buf: BytesMut,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take `bytes`; returns the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Event>, EventStreamError> {
        self.buf.extend_from_slice(bytes);
        let mut events = Vec::new();
        loop {
            match self.frames.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => events.push(event_of(m)?),
                Ok(DecodedFrame::Incomplete) => return Ok(events),
                Err(e) => return Err(EventStreamError::Frame(e.to_string())),
            }
        }
    }

    /// Bytes held that do not make a whole message yet (a stream should end with none).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

fn header(m: &Message, name: &str) -> Option<String> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str().to_owned())
}

fn event_of(m: Message) -> Result<Event, EventStreamError> {
    let message_type = header(&m, ":message-type");
    let event_type = header(&m, ":event-type");
    match (message_type.as_deref(), event_type.as_deref()) {
        (Some("event"), Some("PayloadChunk")) => Ok(Event::PayloadChunk(m.payload().clone())),
        (Some("event"), Some("InvokeComplete")) => serde_json::from_slice(m.payload())
            .map(Event::InvokeComplete)
            .map_err(EventStreamError::Complete),
        _ => Err(EventStreamError::Unexpected {
            message_type,
            event_type,
            payload: String::from_utf8_lossy(m.payload()).into_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_the_end_decode_back_whatever_the_cuts() {
        let done = InvokeComplete {
            error_code: Some("Runtime.Boom".into()),
            error_details: Some("{\"errorMessage\":\"boom\"}".into()),
            log_result: None,
        };
        let mut wire = Vec::new();
        wire.extend_from_slice(&payload_chunk(Bytes::from_static(b"hello ")));
        wire.extend_from_slice(&payload_chunk(Bytes::from_static(b"world")));
        wire.extend_from_slice(&invoke_complete(&done));
        for cut in [1, 7, 13, wire.len()] {
            let mut d = Decoder::new();
            let mut got = Vec::new();
            for piece in wire.chunks(cut) {
                got.extend(d.push(piece).expect("decodes"));
            }
            assert_eq!(
                got,
                vec![
                    Event::PayloadChunk(Bytes::from_static(b"hello ")),
                    Event::PayloadChunk(Bytes::from_static(b"world")),
                    Event::InvokeComplete(done.clone()),
                ],
                "cut every {cut} bytes"
            );
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn a_successful_end_is_an_empty_json_object() {
        let mut d = Decoder::new();
        let wire = invoke_complete(&InvokeComplete::default());
        // The payload is the last bytes before the message CRC.
        assert!(wire[..wire.len() - 4].ends_with(b"{}"));
        assert_eq!(
            d.push(&wire).expect("decodes"),
            vec![Event::InvokeComplete(InvokeComplete::default())]
        );
    }

    #[test]
    fn a_flipped_bit_is_refused_not_read_as_data() {
        let mut wire = payload_chunk(Bytes::from_static(b"data")).to_vec();
        let last = wire.len() - 6;
        wire[last] ^= 1;
        assert!(matches!(
            Decoder::new().push(&wire),
            Err(EventStreamError::Frame(_))
        ));
    }
}
