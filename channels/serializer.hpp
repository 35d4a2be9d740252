#pragma once

#include "channels/message.hpp"
#include "transport/frame.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fenix::channels {

/// Result of encoding: a ready frame, or why the message cannot be sent.
using encode_result = result<transport::frame_ptr>;

/// Result of decoding one inbound frame.
using decode_result = result<message>;

/// Turns Phoenix messages into WebSocket frames and back, in one wire format.
///
/// A connection picks its serializer once, with `negotiate`, from the `vsn`
/// connect parameter, and then uses only that one. Serializers are stateless
/// singletons: one instance serves every connection and thread.
///
/// Encoders write straight into a `transport::frame` buffer (one allocation
/// for the bytes, no copy afterwards), picking a text frame for JSON payloads
/// and a binary frame for binary payloads. They fail, rather than send
/// something a client would misread, when:
/// - a push or broadcast payload is JSON but not an object (Phoenix raises);
/// - a binary payload goes through V1, which has no binary frames;
/// - a binary frame field (join_ref, ref, topic, event, status) exceeds 255
///   bytes.
///
/// Decoders never throw on malformed input; they return the reason. Phoenix
/// answers any decode error by dropping the connection.
class serializer {
public:
  virtual ~serializer();

  // -- properties -------------------------------------------------------------

  /// "1.0.0" or "2.0.0": the protocol version this serializer speaks.
  virtual std::string_view version() const noexcept = 0;

  // -- decoding ---------------------------------------------------------------

  /// Decodes one inbound frame from a client.
  virtual decode_result decode(std::string_view data,
                               transport::opcode op) const = 0;

  // -- encoding: the three server-side kinds ----------------------------------

  /// A `phx_reply` to the client message that carried `ref`; `response` may
  /// be any JSON value or bytes.
  virtual encode_result encode_reply(const boost::json::value& join_ref,
                                     const boost::json::value& ref,
                                     std::string_view topic,
                                     std::string_view status,
                                     payload_view response) const = 0;

  /// A message from a channel to its own client (`push/3`, phx_error,
  /// phx_close). `ref` is null for pushes; binary pushes have no ref slot.
  virtual encode_result encode_push(const boost::json::value& join_ref,
                                    const boost::json::value& ref,
                                    std::string_view topic,
                                    std::string_view event,
                                    payload_view payload) const = 0;

  /// A fastlane broadcast: null join_ref and ref, so the result is the same
  /// for every subscriber using this serializer. PubSub encodes it once per
  /// serializer and hands the same frame to every connection.
  virtual encode_result encode_broadcast(std::string_view topic,
                                         std::string_view event,
                                         payload_view payload) const = 0;

  // -- encoding: convenience --------------------------------------------------

  /// A push with a null ref.
  encode_result encode_push(const boost::json::value& join_ref,
                            std::string_view topic, std::string_view event,
                            payload_view payload) const;

  encode_result encode(const reply& r) const;
  encode_result encode(const push& p) const;
  encode_result encode(const broadcast& b) const;

  /// `[null, ref, "phoenix", "phx_reply", {"status":"ok","response":{}}]`.
  encode_result encode_heartbeat_reply(const boost::json::value& ref) const;

  /// The error reply (null join_ref) for an event on a topic that is not
  /// joined or a join no route matches.
  encode_result encode_unmatched_topic(const boost::json::value& ref,
                                       std::string_view topic) const;

  /// `{"status":"error","response":{"reason": reason}}`, e.g. "join crashed"
  /// or "too many channels joined".
  encode_result encode_error_reply(const boost::json::value& join_ref,
                                   const boost::json::value& ref,
                                   std::string_view topic,
                                   std::string_view reason) const;

  /// `phx_error` after a channel crash; `join_ref` is the one the client sent
  /// in its join, repeated in the ref slot.
  encode_result encode_phx_error(const boost::json::value& join_ref,
                                 std::string_view topic) const;

  /// `phx_close` after a graceful channel end; same refs as phx_error.
  encode_result encode_phx_close(const boost::json::value& join_ref,
                                 std::string_view topic) const;
};

// -- the serializers ----------------------------------------------------------

/// V1: JSON objects `{"topic","event","payload","ref"}`; never emits join_ref.
const serializer& v1_json() noexcept;

/// V2: JSON arrays `[join_ref, ref, topic, event, payload]` in text frames
/// plus the V2 binary frames for binary payloads (what phoenix.js speaks).
const serializer& v2_json() noexcept;

/// Picks the serializer for a connect request's `vsn` parameter: absent or
/// "~> 1.0.0" (1.0.x) -> V1, "~> 2.0.0" (2.0.x) -> V2. Anything else (other
/// versions, not a semantic version) -> nullptr: refuse the connect (403).
const serializer* negotiate(std::optional<std::string_view> vsn) noexcept;

// -- V2 binary frames, client side --------------------------------------------

/// The largest join_ref, ref, topic, event or status in a binary frame.
inline constexpr size_t max_binary_field = 255;

/// Binary frame kinds (first byte).
enum class binary_kind : uint8_t { push = 0, reply = 1, broadcast = 2 };

/// A server binary frame as a client sees it. For replies `event` is
/// "phx_reply" and `status` is set; `ref` is null for pushes and broadcasts,
/// `join_ref` is null for broadcasts; empty refs decode as null.
struct server_binary_frame {
  binary_kind kind;
  boost::json::value join_ref;
  boost::json::value ref;
  std::string topic;
  std::string event;
  std::string status;
  std::string bytes;
};

/// Decodes a server->client binary frame (kinds 0, 1, 2), as phoenix.js does.
/// For tests and the load generator.
result<server_binary_frame> decode_server_binary(std::string_view data);

/// Encodes a client->server binary push (kind 0, 5-byte header), as phoenix.js
/// does for an ArrayBuffer payload. For tests and the load generator.
result<std::string> encode_client_binary(const boost::json::value& join_ref,
                                         const boost::json::value& ref,
                                         std::string_view topic,
                                         std::string_view event,
                                         std::string_view bytes);

} // namespace fenix::channels
