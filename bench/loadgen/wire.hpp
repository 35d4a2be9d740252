//
// fenix_loadgen: the bytes on the wire, without a WebSocket library in the
// hot path. Client frames are built once (or from a prebuilt prefix) with a
// zero masking key: RFC 6455 requires a mask, servers cannot tell a zero key
// from a random one, and it makes masking a no-op. Server frames are parsed
// straight out of the connection's read buffer, several per read.
//
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>
#include <string_view>

namespace loadgen
{

namespace ws
{

enum opcode : std::uint8_t
{
    cont = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10
};

// Appends one complete masked client frame (FIN set) to `out`.
inline void
append_frame(std::string& out, opcode op, std::string_view payload)
{
    auto const n = payload.size();
    char hdr[14];
    std::size_t h = 0;
    hdr[h++] = static_cast<char>(0x80 | op);
    if(n < 126)
        hdr[h++] = static_cast<char>(0x80 | n);
    else if(n < 65536)
    {
        hdr[h++] = static_cast<char>(0x80 | 126);
        hdr[h++] = static_cast<char>(n >> 8);
        hdr[h++] = static_cast<char>(n & 0xff);
    }
    else
    {
        hdr[h++] = static_cast<char>(0x80 | 127);
        for(int i = 7; i >= 0; --i)
            hdr[h++] = static_cast<char>((std::uint64_t(n) >> (8 * i)) & 0xff);
    }
    // masking key 0,0,0,0
    for(int i = 0; i < 4; ++i)
        hdr[h++] = 0;
    out.append(hdr, h);
    out.append(payload.data(), payload.size());
}

// One parsed server frame. `payload` points into the read buffer.
struct frame
{
    bool fin;
    opcode op;
    std::string_view payload;
};

// Parses one frame from the front of [p, p+n). Returns the bytes it takes,
// 0 if incomplete, or -1 on a protocol error (masked server frame, ...).
inline long
parse_frame(char* p, std::size_t n, frame& f)
{
    if(n < 2)
        return 0;
    auto const b0 = static_cast<std::uint8_t>(p[0]);
    auto const b1 = static_cast<std::uint8_t>(p[1]);
    std::size_t h = 2;
    std::uint64_t len = b1 & 0x7f;
    if(len == 126)
    {
        if(n < 4)
            return 0;
        len = (std::uint64_t(static_cast<std::uint8_t>(p[2])) << 8) |
              static_cast<std::uint8_t>(p[3]);
        h = 4;
    }
    else if(len == 127)
    {
        if(n < 10)
            return 0;
        len = 0;
        for(int i = 0; i < 8; ++i)
            len = (len << 8) | static_cast<std::uint8_t>(p[2 + i]);
        h = 10;
    }
    bool const masked = (b1 & 0x80) != 0;
    if(masked)
        h += 4;
    if(len > (std::uint64_t(1) << 30))
        return -1;
    if(n < h + len)
        return 0;
    if(masked) // servers must not mask; unmask anyway to stay tolerant
        for(std::uint64_t i = 0; i < len; ++i)
            p[h + i] = static_cast<char>(p[h + i] ^ p[h - 4 + (i & 3)]);
    f.fin = (b0 & 0x80) != 0;
    f.op = static_cast<opcode>(b0 & 0x0f);
    f.payload = std::string_view(p + h, static_cast<std::size_t>(len));
    return static_cast<long>(h + len);
}

} // namespace ws

namespace v2
{

// The five slots of a Phoenix V2 frame, as raw views: strings without their
// quotes (escapes left as they are: our topics and refs have none), null as
// an empty view with is_null set, the payload as raw JSON text.
struct message
{
    std::string_view join_ref, ref, topic, event, payload;
    bool join_ref_null = true, ref_null = true;
};

inline void
skip_ws(std::string_view s, std::size_t& i)
{
    while(i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' ||
                           s[i] == '\t'))
        ++i;
}

// Reads a JSON string or null at i; leaves i after it and the comma.
inline bool
slot(std::string_view s, std::size_t& i, std::string_view& out, bool& is_null)
{
    skip_ws(s, i);
    if(i >= s.size())
        return false;
    if(s[i] == 'n')
    {
        if(s.substr(i, 4) != "null")
            return false;
        i += 4;
        is_null = true;
        out = {};
    }
    else if(s[i] == '"')
    {
        auto const start = ++i;
        while(i < s.size() && s[i] != '"')
            i += (s[i] == '\\') ? 2 : 1;
        if(i >= s.size())
            return false;
        out = s.substr(start, i - start);
        is_null = false;
        ++i;
    }
    else
    {
        // Refs may be any JSON value in theory; take a scalar up to the comma.
        auto const start = i;
        while(i < s.size() && s[i] != ',')
            ++i;
        out = s.substr(start, i - start);
        is_null = false;
    }
    skip_ws(s, i);
    if(i >= s.size() || s[i] != ',')
        return false;
    ++i;
    return true;
}

inline bool
parse(std::string_view s, message& m)
{
    std::size_t i = 0;
    skip_ws(s, i);
    if(i >= s.size() || s[i] != '[')
        return false;
    ++i;
    bool topic_null = false, event_null = false;
    if(!slot(s, i, m.join_ref, m.join_ref_null) ||
       !slot(s, i, m.ref, m.ref_null) ||
       !slot(s, i, m.topic, topic_null) ||
       !slot(s, i, m.event, event_null))
        return false;
    auto end = s.size();
    while(end > i && s[end - 1] != ']')
        --end;
    if(end <= i)
        return false;
    m.payload = s.substr(i, end - 1 - i);
    return true;
}

// Finds "key" followed by ':' and an integer in a JSON text; false if absent.
// Good enough for payloads we built ourselves ({"seq":1,"ts":2}).
inline bool
find_int(std::string_view s, std::string_view quoted_key, std::int64_t& out)
{
    auto pos = s.find(quoted_key);
    if(pos == std::string_view::npos)
        return false;
    pos += quoted_key.size();
    skip_ws(s, pos);
    if(pos >= s.size() || s[pos] != ':')
        return false;
    ++pos;
    skip_ws(s, pos);
    bool neg = false;
    if(pos < s.size() && s[pos] == '-')
    {
        neg = true;
        ++pos;
    }
    if(pos >= s.size() || s[pos] < '0' || s[pos] > '9')
        return false;
    auto const start = pos;
    std::int64_t v = 0;
    while(pos < s.size() && s[pos] >= '0' && s[pos] <= '9')
        v = v * 10 + (s[pos++] - '0');
    // A server whose JSON library turned our integer into a double
    // (1.5E12, 1500000000000.0) still round-trips it exactly below 2^53.
    if(pos < s.size() && (s[pos] == '.' || s[pos] == 'e' || s[pos] == 'E'))
    {
        std::string const num(s.substr(start, std::min<std::size_t>(
                                                  32, s.size() - start)));
        v = static_cast<std::int64_t>(std::strtod(num.c_str(), nullptr));
    }
    out = neg ? -v : v;
    return true;
}

// The reply status ("ok", "error") of a phx_reply payload.
inline std::string_view
reply_status(std::string_view payload)
{
    auto pos = payload.find("\"status\"");
    if(pos == std::string_view::npos)
        return {};
    pos += 8;
    skip_ws(payload, pos);
    if(pos >= payload.size() || payload[pos] != ':')
        return {};
    ++pos;
    skip_ws(payload, pos);
    if(pos >= payload.size() || payload[pos] != '"')
        return {};
    auto const start = ++pos;
    auto const end = payload.find('"', start);
    if(end == std::string_view::npos)
        return {};
    return payload.substr(start, end - start);
}

// Appends a non-negative decimal integer.
inline void
append_uint(std::string& s, std::uint64_t v)
{
    char buf[24];
    int n = 0;
    do
    {
        buf[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while(v);
    while(n)
        s += buf[--n];
}

} // namespace v2

} // namespace loadgen
