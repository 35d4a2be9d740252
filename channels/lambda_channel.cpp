#include "channels/lambda_channel.hpp"

#include <stdexcept>

namespace fenix::channels {

namespace {

class lambda_channel_impl : public channel {
public:
  explicit lambda_channel_impl(const lambda_channel& fns) : fns_(fns) {
    // nop
  }

  join_result join(const std::string& topic, const json& p,
                   socket& s) override {
    if (!fns_.on_join)
      return join_result::ok();
    return fns_.on_join(topic, p, s);
  }

  in_result handle_in(const std::string& event, const payload& p,
                      socket& s) override {
    if (!fns_.on_in)
      return channel::handle_in(event, p, s);
    return fns_.on_in(event, p, s);
  }

  std::vector<std::string> intercepts() const override {
    return fns_.intercepts;
  }

  info_result handle_out(const std::string& event, const payload& p,
                         socket& s) override {
    if (!fns_.on_out)
      return channel::handle_out(event, p, s);
    return fns_.on_out(event, p, s);
  }

  caf::message_handler handle_info(socket& s) override {
    if (!fns_.on_info)
      return channel::handle_info(s);
    return fns_.on_info(s);
  }

  caf::message_handler handle_call(socket& s) override {
    if (!fns_.on_call)
      return channel::handle_call(s);
    return fns_.on_call(s);
  }

  void terminate(const stop_reason& why, socket& s) override {
    if (fns_.on_terminate)
      fns_.on_terminate(why, s);
  }

private:
  lambda_channel fns_;
};

} // namespace

std::function<channel_ptr()> lambda_channel::factory() const {
  auto fns = *this;
  return [fns] { return std::make_unique<lambda_channel_impl>(fns); };
}

} // namespace fenix::channels
