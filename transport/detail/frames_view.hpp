#pragma once

// Internal to the I/O half: Asio, no Beast, no CAF.

#include <cstddef>
#include <iterator>
#include <vector>

#include <boost/asio/buffer.hpp>

#include "transport/frame.hpp"

namespace fenix::transport::detail {

namespace net = boost::asio;

/// A ConstBufferSequence over queued frames: one `const_buffer` per frame,
/// pointing at its prebuilt wire bytes. Copying it copies two pointers.
class frames_view {
public:
  class const_iterator {
  public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = net::const_buffer;
    using difference_type = std::ptrdiff_t;
    using pointer = const net::const_buffer*;
    using reference = net::const_buffer;

    const_iterator() noexcept = default;
    const_iterator(const frame_ptr* p, const frame_ptr* first,
                   size_t skip) noexcept
        : p_(p), first_(first), skip_(skip) {
      // nop
    }

    net::const_buffer operator*() const noexcept {
      auto w = (*p_)->wire();
      if (p_ == first_)
        w.remove_prefix(skip_);
      return {w.data(), w.size()};
    }
    const_iterator& operator++() noexcept {
      ++p_;
      return *this;
    }
    const_iterator operator++(int) noexcept {
      auto tmp = *this;
      ++p_;
      return tmp;
    }
    const_iterator& operator--() noexcept {
      --p_;
      return *this;
    }
    const_iterator operator--(int) noexcept {
      auto tmp = *this;
      --p_;
      return tmp;
    }
    bool operator==(const const_iterator& x) const noexcept {
      return p_ == x.p_;
    }
    bool operator!=(const const_iterator& x) const noexcept {
      return p_ != x.p_;
    }

  private:
    const frame_ptr* p_ = nullptr;
    const frame_ptr* first_ = nullptr;
    size_t skip_ = 0;
  };

  using value_type = net::const_buffer;

  /// `skip`: bytes of the first frame that already left.
  frames_view(const std::vector<frame_ptr>& xs, size_t skip) noexcept
      : first_(xs.data()), last_(xs.data() + xs.size()), skip_(skip) {
    // nop
  }

  const_iterator begin() const noexcept {
    return const_iterator{first_, first_, skip_};
  }
  const_iterator end() const noexcept {
    return const_iterator{last_, first_, skip_};
  }

private:
  const frame_ptr* first_;
  const frame_ptr* last_;
  size_t skip_;
};

static_assert(net::is_const_buffer_sequence<frames_view>::value);

} // namespace fenix::transport::detail
