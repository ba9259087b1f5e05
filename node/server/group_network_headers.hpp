#pragma once
// The CONNECT answer's lines for a policy's client network settings (docs/group-networks.md):
// X-CSTP-Split-DNS (one per domain), X-CSTP-Default-Domain and X-CSTP-Banner. The values were
// checked when the configuration was loaded (config/group_network.hpp). Pure.
#include <string>
#include <string_view>

#include "node/config/config.hpp"
#include "node/http/request.hpp"

namespace tandem::server {

// The banner as X-CSTP-Banner carries it: '%', control characters (the line ends) and non-ASCII
// bytes as %XX, which openconnect decodes before it hands the banner to the vpnc-script
// (CISCO_BANNER). A header line so never holds a CR or LF, whatever the text.
std::string banner_header_value(std::string_view banner);

void add_group_network_headers(http::Response& response, const config::Policy& policy);

}  // namespace tandem::server
