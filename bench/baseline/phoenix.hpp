//
// Phoenix V2 JSON frames for the baseline server (protocol.md 1.2):
// decode a client frame, encode replies and broadcasts. Boost.JSON only,
// kept out of the Beast translation units.
//
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace phoenix
{

// A decoded client frame. The refs are kept as their JSON text ("\"1\"" or
// "null") because the server echoes them back unchanged.
struct message
{
    std::string join_ref; // JSON text
    std::string ref;      // JSON text
    std::string topic;
    std::string event;
    std::string payload;  // JSON text
};

// Returns false if the text is not an array of at least five elements with
// string topic and event (Phoenix crashes the socket then; so do we).
bool
decode(std::string_view text, message& out);

// [jr, r, topic, "phx_reply", {"status": status, "response": response}]
std::string
encode_reply(
    std::string const& join_ref,
    std::string const& ref,
    std::string const& topic,
    char const* status,
    std::string const& response);

// [jr, r, topic, event, payload] with raw JSON for refs and payload.
std::string
encode_push(
    std::string const& join_ref,
    std::string const& ref,
    std::string const& topic,
    char const* event,
    std::string const& payload);

} // namespace phoenix
