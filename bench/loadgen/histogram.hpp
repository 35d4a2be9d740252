//
// fenix_loadgen: a log-linear latency histogram (HDR style, 64 sub-buckets
// per power of two, so ~1.6% precision) over nanoseconds. Fixed size, no
// allocation while recording, cheap to merge across worker processes.
//
#pragma once

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace loadgen
{

class histogram
{
public:
    // 2^41 ns is about 36 minutes; anything longer is clamped.
    static constexpr int sub_bits = 6;
    static constexpr int buckets = 64 * 36 + 128;

    histogram() : counts_(buckets, 0) {}

    static int index_of(std::uint64_t v)
    {
        if(v < 128)
            return static_cast<int>(v);
        int const msb = 63 - __builtin_clzll(v);
        int const shift = msb - sub_bits;
        int const idx = 64 * shift + static_cast<int>(v >> shift);
        return std::min(idx, buckets - 1);
    }

    // Upper bound of a bucket, so percentiles never understate latency.
    static std::uint64_t value_of(int idx)
    {
        if(idx < 128)
            return static_cast<std::uint64_t>(idx);
        int const shift = idx / 64 - 1;
        std::uint64_t const m = static_cast<std::uint64_t>(idx - 64 * shift);
        return ((m + 1) << shift) - 1;
    }

    void record(std::int64_t ns)
    {
        auto const v = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
        ++counts_[index_of(v)];
        ++total_;
        max_ = std::max(max_, v);
    }

    void merge(histogram const& o)
    {
        for(int i = 0; i < buckets; ++i)
            counts_[i] += o.counts_[i];
        total_ += o.total_;
        max_ = std::max(max_, o.max_);
    }

    void reset()
    {
        std::fill(counts_.begin(), counts_.end(), 0);
        total_ = 0;
        max_ = 0;
    }

    std::uint64_t count() const { return total_; }
    std::uint64_t max() const { return max_; }

    // q in [0, 1]; returns nanoseconds.
    std::uint64_t percentile(double q) const
    {
        if(total_ == 0)
            return 0;
        auto const rank = static_cast<std::uint64_t>(q * total_ + 0.5);
        std::uint64_t seen = 0;
        for(int i = 0; i < buckets; ++i)
        {
            seen += counts_[i];
            if(seen >= std::max<std::uint64_t>(rank, 1))
                return std::min(value_of(i), max_);
        }
        return max_;
    }

    // "max idx:count idx:count ..." on one line, only non-empty buckets.
    std::string encode() const
    {
        std::ostringstream os;
        os << max_;
        for(int i = 0; i < buckets; ++i)
            if(counts_[i])
                os << ' ' << i << ':' << counts_[i];
        return os.str();
    }

    void decode_merge(std::string const& line)
    {
        std::istringstream is(line);
        std::uint64_t m = 0;
        is >> m;
        max_ = std::max(max_, m);
        std::string tok;
        while(is >> tok)
        {
            auto const colon = tok.find(':');
            if(colon == std::string::npos)
                continue;
            int const i = std::stoi(tok.substr(0, colon));
            auto const c = std::stoull(tok.substr(colon + 1));
            if(i >= 0 && i < buckets)
            {
                counts_[i] += c;
                total_ += c;
            }
        }
    }

private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
};

} // namespace loadgen
