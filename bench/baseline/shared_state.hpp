//
// The topics of the baseline server: a plain map from topic to the set of
// sessions joined to it, as the "room" of Beast's chat-multi example.
//
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

class websocket_session;

// Shared by every session. With --threads > 1 sessions run concurrently, so
// the map is guarded by a mutex; broadcasts copy weak pointers under the lock
// and send outside it (chat-multi does the same).
class shared_state
{
    std::mutex mutex_;
    std::unordered_map<std::string,
        std::unordered_set<websocket_session*>> topics_;

public:
    void join(std::string const& topic, websocket_session* session);
    void leave(std::string const& topic, websocket_session* session);

    // Sends one immutable frame to every session joined to `topic`.
    void broadcast(
        std::string const& topic,
        std::shared_ptr<std::string const> const& frame);
};
