//
// fenix baseline server: the per-connection code (HTTP upgrade, WebSocket
// session, topics). Written as in Beast's websocket chat-multi example: one
// strand per connection, named completion handlers, one async_write per
// frame with a per-session queue, broadcasts sharing one immutable buffer.
//
#include "http_session.hpp"
#include "phoenix.hpp"
#include "websocket_session.hpp"

#include <vector>

//------------------------------------------------------------------------------
// shared_state

void
shared_state::join(std::string const& topic, websocket_session* session)
{
    std::lock_guard<std::mutex> lock(mutex_);
    topics_[topic].insert(session);
}

void
shared_state::leave(std::string const& topic, websocket_session* session)
{
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = topics_.find(topic);
    if(it == topics_.end())
        return;
    it->second.erase(session);
    if(it->second.empty())
        topics_.erase(it);
}

void
shared_state::broadcast(
    std::string const& topic,
    std::shared_ptr<std::string const> const& frame)
{
    // Make a local list of all the weak pointers representing the sessions,
    // so we can do the actual sending without holding the mutex.
    std::vector<std::weak_ptr<websocket_session>> v;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = topics_.find(topic);
        if(it == topics_.end())
            return;
        v.reserve(it->second.size());
        for(auto p : it->second)
            v.emplace_back(p->weak_from_this());
    }

    // For each session in our local list, try to acquire a strong pointer.
    // If successful, then send the frame on that session.
    for(auto const& wp : v)
        if(auto sp = wp.lock())
            sp->send(frame);
}

//------------------------------------------------------------------------------
// websocket_session

websocket_session::websocket_session(
    tcp::socket&& socket,
    std::shared_ptr<shared_state> const& state)
    : ws_(std::move(socket))
    , state_(state)
{
}

websocket_session::~websocket_session()
{
    // The session is gone: remove it from every topic it joined.
    for(auto const& t : topics_)
        state_->leave(t.first, this);
}

void
websocket_session::run(http::request<http::string_body> req)
{
    // Set suggested timeout settings for the websocket
    ws_.set_option(
        websocket::stream_base::timeout::suggested(beast::role_type::server));

    // Set a decorator to change the Server of the handshake
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res)
        {
            res.set(http::field::server, "fenix-baseline");
        }));

    // Every frame we send is V2 JSON text.
    ws_.text(true);

    // Accept the websocket handshake
    ws_.async_accept(
        req,
        beast::bind_front_handler(
            &websocket_session::on_accept,
            shared_from_this()));
}

void
websocket_session::on_accept(beast::error_code ec)
{
    if(ec)
        return fail(ec, "accept");
    do_read();
}

void
websocket_session::do_read()
{
    ws_.async_read(
        buffer_,
        beast::bind_front_handler(
            &websocket_session::on_read,
            shared_from_this()));
}

void
websocket_session::on_read(beast::error_code ec, std::size_t)
{
    if(ec)
        return fail(ec, "read");

    auto const data = buffer_.data();
    phoenix::message msg;
    bool const ok = phoenix::decode(
        std::string_view(static_cast<char const*>(data.data()), data.size()),
        msg);
    buffer_.consume(buffer_.size());
    // A frame Phoenix cannot decode crashes its socket process: drop the
    // connection the same way (returning without reading again does it).
    if(!ok)
        return;
    handle(msg);
    do_read();
}

void
websocket_session::handle(phoenix::message& msg)
{
    auto const reply = [this](std::string const& jr, std::string const& ref,
                              std::string const& topic, char const* status,
                              std::string const& response)
    {
        on_send(std::make_shared<std::string const>(
            phoenix::encode_reply(jr, ref, topic, status, response)));
    };

    // The socket itself answers heartbeats; they never reach a channel.
    if(msg.topic == "phoenix" && msg.event == "heartbeat")
        return reply("null", msg.ref, msg.topic, "ok", "{}");

    auto it = topics_.find(msg.topic);
    if(msg.event == "phx_join")
    {
        // Only BenchChannel is routed ("bench:*").
        if(msg.topic.rfind("bench:", 0) != 0)
            return reply("null", msg.ref, msg.topic, "error",
                         "{\"reason\":\"unmatched topic\"}");
        joined_topic jt;
        jt.join_ref = msg.join_ref;
        jt.reply_ref = msg.join_ref == "null" ? msg.ref : msg.join_ref;
        if(it == topics_.end())
            state_->join(msg.topic, this);
        auto const& stored = topics_[msg.topic] = std::move(jt);
        return reply(stored.reply_ref, msg.ref, msg.topic, "ok", "{}");
    }

    if(it == topics_.end())
    {
        // A leave of a topic that is not joined is still acknowledged.
        if(msg.event == "phx_leave")
            return reply("null", msg.ref, msg.topic, "ok", "{}");
        return reply("null", msg.ref, msg.topic, "error",
                     "{\"reason\":\"unmatched topic\"}");
    }

    // A message for an older join of this topic is silently dropped.
    if(msg.join_ref != "null" && msg.join_ref != it->second.join_ref)
        return;

    auto const jt = it->second;
    if(msg.event == "ping")
        return reply(jt.reply_ref, msg.ref, msg.topic, "ok", msg.payload);

    if(msg.event == "shout")
    {
        // Fastlane: encoded once, the same buffer goes to every subscriber.
        auto frame = std::make_shared<std::string const>(
            phoenix::encode_push("null", "null", msg.topic, "shout",
                                 msg.payload));
        return state_->broadcast(msg.topic, frame);
    }

    state_->leave(msg.topic, this);
    topics_.erase(it);
    if(msg.event == "phx_leave")
    {
        reply(jt.reply_ref, msg.ref, msg.topic, "ok", "{}");
        on_send(std::make_shared<std::string const>(phoenix::encode_push(
            jt.join_ref, jt.join_ref, msg.topic, "phx_close", "{}")));
        return;
    }

    // BenchChannel has no other handle_in clause: the channel crashes.
    on_send(std::make_shared<std::string const>(phoenix::encode_push(
        jt.join_ref, jt.join_ref, msg.topic, "phx_error",
        "{\"reason\":\"channel_crash\"}")));
}

void
websocket_session::send(std::shared_ptr<std::string const> const& frame)
{
    // Post our work to the strand, this ensures
    // that the members of `this` will not be
    // accessed concurrently.
    net::post(
        ws_.get_executor(),
        beast::bind_front_handler(
            &websocket_session::on_send,
            shared_from_this(),
            frame));
}

void
websocket_session::on_send(std::shared_ptr<std::string const> const& frame)
{
    // Always add to queue
    queue_.push_back(frame);

    // Are we already writing?
    if(queue_.size() > 1)
        return;

    // We are not currently writing, so send this immediately
    ws_.async_write(
        net::buffer(*queue_.front()),
        beast::bind_front_handler(
            &websocket_session::on_write,
            shared_from_this()));
}

void
websocket_session::on_write(beast::error_code ec, std::size_t)
{
    if(ec)
        return fail(ec, "write");

    // Remove the frame from the queue
    queue_.pop_front();

    // Send the next frame if any
    if(!queue_.empty())
        ws_.async_write(
            net::buffer(*queue_.front()),
            beast::bind_front_handler(
                &websocket_session::on_write,
                shared_from_this()));
}

//------------------------------------------------------------------------------
// http_session

http_session::http_session(
    tcp::socket&& socket,
    std::shared_ptr<shared_state> const& state)
    : stream_(std::move(socket))
    , state_(state)
{
}

void
http_session::run()
{
    // We need to be executing within a strand to perform async operations
    // on the I/O objects in this session.
    net::dispatch(
        stream_.get_executor(),
        beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void
http_session::do_read()
{
    // Construct a new parser for each message
    parser_.emplace();

    // Apply a reasonable limit to the allowed size
    // of the body in bytes to prevent abuse.
    parser_->body_limit(10000);

    // Set the timeout.
    stream_.expires_after(std::chrono::seconds(30));

    http::async_read(
        stream_,
        buffer_,
        *parser_,
        beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void
http_session::on_read(beast::error_code ec, std::size_t)
{
    if(ec)
        return fail(ec, "http read");

    auto const& req = parser_->get();
    auto const target = req.target();
    auto const path = target.substr(0, target.find('?'));

    // See if it is a WebSocket Upgrade on the Phoenix socket path
    if(websocket::is_upgrade(req) && path == "/socket/websocket")
    {
        // The session takes over the socket; the timeout of the HTTP phase
        // must not follow it.
        stream_.expires_never();
        std::make_shared<websocket_session>(
            stream_.release_socket(), state_)->run(parser_->release());
        return;
    }

    // Anything else: a short error and close.
    auto res = std::make_shared<http::response<http::string_body>>(
        websocket::is_upgrade(req) ? http::status::not_found
                                   : http::status::bad_request,
        req.version());
    res->set(http::field::server, "fenix-baseline");
    res->set(http::field::content_type, "text/plain");
    res->body() = "fenix baseline: only /socket/websocket (WebSocket)\n";
    res->keep_alive(false);
    res->prepare_payload();
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res](beast::error_code ec, std::size_t n)
        {
            self->on_write(ec, n);
        });
}

void
http_session::on_write(beast::error_code ec, std::size_t)
{
    if(ec)
        return fail(ec, "http write");
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
}
