#include "transport/http.hpp"

#include <atomic>

namespace fenix::transport {

const std::string* http_request::header(std::string_view name) const noexcept {
  for (auto& [k, v] : headers)
    if (k == name)
      return &v;
  return nullptr;
}

http_response http_response::text(unsigned status, std::string body) {
  http_response res;
  res.status = status;
  res.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  res.body = std::move(body);
  return res;
}

http_response http_response::json(std::string body, unsigned status) {
  http_response res;
  res.status = status;
  res.headers.emplace_back("content-type", "application/json; charset=utf-8");
  res.body = std::move(body);
  return res;
}

struct http_responder::state {
  explicit state(std::shared_ptr<detail::response_sink> s)
      : sink(std::move(s)) {
    // nop
  }

  ~state() {
    if (!done.exchange(true))
      sink->deliver(http_response::text(500, "no response\n"));
  }

  std::shared_ptr<detail::response_sink> sink;
  std::atomic<bool> done{false};
};

http_responder::http_responder(std::shared_ptr<detail::response_sink> sink)
    : st_(std::make_shared<state>(std::move(sink))) {
  // nop
}

void http_responder::operator()(http_response res) const {
  if (!st_->done.exchange(true))
    st_->sink->deliver(std::move(res));
}

} // namespace fenix::transport
