//
// Phoenix V2 JSON frames for the baseline server, with Boost.JSON.
//
#include "phoenix.hpp"

#include <boost/json.hpp>

namespace json = boost::json;

namespace phoenix
{

bool
decode(std::string_view text, message& out)
{
    json::error_code ec;
    // A small stack buffer serves most frames without touching the heap;
    // this is what the Boost.JSON docs recommend for short-lived values.
    unsigned char buf[4096];
    json::monotonic_resource mr(buf, sizeof(buf));
    json::value v = json::parse(
        json::string_view(text.data(), text.size()), ec, &mr);
    if(ec || !v.is_array())
        return false;
    auto const& a = v.get_array();
    if(a.size() < 5 || !a[2].is_string() || !a[3].is_string())
        return false;
    out.join_ref = json::serialize(a[0]);
    out.ref = json::serialize(a[1]);
    out.topic.assign(a[2].get_string().data(), a[2].get_string().size());
    out.event.assign(a[3].get_string().data(), a[3].get_string().size());
    out.payload = json::serialize(a[4]);
    return true;
}

static void
append_string(std::string& s, std::string const& raw)
{
    s += json::serialize(json::string_view(raw.data(), raw.size()));
}

std::string
encode_reply(
    std::string const& join_ref,
    std::string const& ref,
    std::string const& topic,
    char const* status,
    std::string const& response)
{
    std::string s;
    s.reserve(64 + topic.size() + response.size());
    s += '[';
    s += join_ref;
    s += ',';
    s += ref;
    s += ',';
    append_string(s, topic);
    s += ",\"phx_reply\",{\"status\":\"";
    s += status;
    s += "\",\"response\":";
    s += response;
    s += "}]";
    return s;
}

std::string
encode_push(
    std::string const& join_ref,
    std::string const& ref,
    std::string const& topic,
    char const* event,
    std::string const& payload)
{
    std::string s;
    s.reserve(32 + topic.size() + payload.size());
    s += '[';
    s += join_ref;
    s += ',';
    s += ref;
    s += ',';
    append_string(s, topic);
    s += ",\"";
    s += event;
    s += "\",";
    s += payload;
    s += ']';
    return s;
}

} // namespace phoenix
