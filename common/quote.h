// A string as a double-quoted literal that is at once a JSON string and a
// TOML basic string: `"` `\` newline, return and tab escaped as \" \\ \n \r
// \t, other control characters and DEL as \u00XX, every other byte as is.
#pragma once

#include <string>
#include <string_view>

namespace qs {

std::string Quote(std::string_view s);

}  // namespace qs
