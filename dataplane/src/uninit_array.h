// Per-burst scratch arrays that are not initialised when they are declared. Internal to
// dataplane/.
//
// The worker keeps arrays of 64 ParsedFrame and PacketView on its stack for every burst. Both
// types have default member initialisers (right for their other users), so a plain array of
// them is zeroed on every burst: 5.6 KB of stores, a sixth of Worker::process at one session
// (perf annotate). Every element the worker reads it has written first in the same burst.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>

namespace srtpgate::dp::detail {

// Storage is a byte array, which creates the T objects the code then uses implicitly
// ([intro.object]: T must be an implicit-lifetime type, such as an aggregate of plain data),
// so writing an element before reading it is all that is needed.
template <class T, std::size_t N>
class UninitArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "only plain data may start uninitialised");

 public:
  UninitArray() noexcept {}  // deliberately leaves `bytes_` alone
  T& operator[](std::size_t i) noexcept { return data()[i]; }
  const T& operator[](std::size_t i) const noexcept {
    return std::launder(reinterpret_cast<const T*>(bytes_))[i];
  }
  T* data() noexcept { return std::launder(reinterpret_cast<T*>(bytes_)); }

 private:
  alignas(T) std::byte bytes_[sizeof(T) * N];
};

}  // namespace srtpgate::dp::detail
