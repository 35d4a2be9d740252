#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/json/object.hpp>

#include "channels/channel_pool.hpp"
#include "channels/pubsub.hpp"
#include "transport/socket_handler.hpp"

namespace fenix::channels {

class serializer;
class user_socket;

namespace detail {

/// The Phoenix protocol on one connection (Phoenix's socket process), for
/// `phoenix_handler_factory`.
transport::socket_handler_ptr
make_phoenix_handler(std::shared_ptr<user_socket> us, pubsub ps,
                     channel_pool pool, const serializer* ser,
                     boost::json::object assigns,
                     std::optional<std::string> id, std::string transport);

} // namespace detail
} // namespace fenix::channels
