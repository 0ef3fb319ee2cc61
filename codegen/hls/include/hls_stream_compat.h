// moearch: hls::stream<T> for plain C++17 compilers (C simulation with g++ or clang).
//
// Under __SYNTHESIS__ (Vitis HLS) the vendor header <hls_stream.h> is used instead.
//
// A FIFO over std::deque with the Vitis HLS C-simulation behaviour: unbounded (writes never block
// or drop), elements leave in write order. DEPTH (optional, as in hls::stream<T, DEPTH>) only
// changes full(): true once size() >= DEPTH. Reading an empty stream throws std::runtime_error
// naming the stream (in hardware it would hang). Provided: read(), read(T&), read_nb(T&),
// write(const T&), write_nb(const T&), empty(), full(), size(), operator<< and operator>>.
#ifndef MOEARCH_HLS_STREAM_COMPAT_H
#define MOEARCH_HLS_STREAM_COMPAT_H

#ifdef __SYNTHESIS__
#include <hls_stream.h>
#else

#include <cstddef>
#include <deque>
#include <stdexcept>
#include <string>

namespace hls {

template <typename T, int DEPTH = 0>
class stream {
  static_assert(DEPTH >= 0, "stream depth must be non-negative");

 public:
  stream() : name_("stream") {}
  explicit stream(const char* name) : name_(name) {}
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  bool empty() const { return fifo_.empty(); }
  bool full() const { return DEPTH > 0 && fifo_.size() >= static_cast<std::size_t>(DEPTH); }
  std::size_t size() const { return fifo_.size(); }

  void write(const T& value) { fifo_.push_back(value); }
  bool write_nb(const T& value) {
    if (full()) {
      return false;
    }
    write(value);
    return true;
  }
  T read() {
    if (fifo_.empty()) {
      throw std::runtime_error("hls::stream '" + name_ + "' read while empty");
    }
    T value = fifo_.front();
    fifo_.pop_front();
    return value;
  }
  void read(T& value) { value = read(); }
  bool read_nb(T& value) {
    if (fifo_.empty()) {
      return false;
    }
    value = read();
    return true;
  }
  void operator<<(const T& value) { write(value); }
  void operator>>(T& value) { read(value); }

 private:
  std::string name_;
  std::deque<T> fifo_;
};

}  // namespace hls

#endif  // __SYNTHESIS__
#endif  // MOEARCH_HLS_STREAM_COMPAT_H
