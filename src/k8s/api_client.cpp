#include "k8s/api_client.h"

#include <cctype>
#include <mutex>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "common/version.h"

namespace mg::k8s {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

curl_blob blob(const std::string& pem) {
  return curl_blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
}

}  // namespace

// What a transfer's callbacks share.
struct ApiClient::Transfer {
  CURL* curl;
  const LineHandler* on_line;
  const OpenHandler* on_open;
  const std::atomic<bool>* stop;
  bool opened = false;
  bool ended_by_reader = false;
  std::string body = {};
  std::string partial_line = {};
  bool streaming_lines = false;
  bool status_checked = false;

  // A header line; the empty one ends a header block, whose status is then known.
  size_t header(const char* data, size_t size) {
    const bool block_ends = size == 0 || data[0] == '\r' || data[0] == '\n';
    if (block_ends && on_open != nullptr && *on_open && !opened) {
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200 && status < 300) {
        opened = true;
        (*on_open)();
      }
    }
    return size;
  }

  size_t write(const char* data, size_t size) {
    if (!status_checked) {
      long status = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      streaming_lines = on_line && status >= 200 && status < 300;
      status_checked = true;
    }
    if (!streaming_lines) {
      body.append(data, size);
      return size;
    }
    std::string_view chunk(data, size);
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        partial_line.append(chunk);
        break;
      }
      bool more = true;
      if (partial_line.empty()) {
        more = (*on_line)(chunk.substr(0, nl));
      } else {
        partial_line.append(chunk.substr(0, nl));
        more = (*on_line)(partial_line);
        partial_line.clear();
      }
      if (!more) {
        ended_by_reader = true;
        return 0;  // libcurl ends the transfer (CURLE_WRITE_ERROR)
      }
      chunk.remove_prefix(nl + 1);
    }
    return size;
  }
};

std::string ApiResponse::describe() const {
  if (status == 0) return transport_error.empty() ? "no answer" : transport_error;
  std::string out = "HTTP " + std::to_string(status);
  // The API server explains an error in a Status object; its reason and message say it best.
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object() && doc.value("kind", "") == "Status") {
    if (doc.contains("reason") && doc["reason"].is_string()) out += " " + doc["reason"].get<std::string>();
    if (doc.contains("message") && doc["message"].is_string()) out += ": " + doc["message"].get<std::string>();
  } else if (!body.empty()) {
    out += ": " + body.substr(0, 200);
  }
  return out;
}

ApiClient::ApiClient(ClusterConnection connection, const std::atomic<bool>* stop)
    : connection_(std::move(connection)), stop_(stop) {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) throw std::runtime_error("libcurl: cannot create a handle");
}

ApiClient::~ApiClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

ApiResponse ApiClient::get(const std::string& path, std::chrono::milliseconds timeout) {
  return perform("GET", path, nullptr, {}, timeout, nullptr, {});
}

ApiResponse ApiClient::send(std::string_view method, const std::string& path, const std::string& body,
                            std::string_view content_type, std::chrono::milliseconds timeout) {
  return perform(method, path, &body, content_type, timeout, nullptr, {});
}

ApiResponse ApiClient::stream(const std::string& path, const LineHandler& on_line,
                              std::chrono::milliseconds idle_timeout, const OpenHandler& on_open) {
  return perform("GET", path, nullptr, {}, {}, &on_line, idle_timeout, &on_open);
}

ApiResponse ApiClient::perform(std::string_view method, const std::string& path, const std::string* body,
                               std::string_view content_type, std::chrono::milliseconds timeout,
                               const LineHandler* on_line, std::chrono::milliseconds idle_timeout,
                               const OpenHandler* on_open) {
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache, forgets the last request's options
  Transfer transfer{curl, on_line, on_open, stop_};
  const std::string url = connection_.server + path;
  const std::string method_text(method);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
  if (on_line) {
    // A watch may be quiet for long; with bookmarks the server speaks at least every minute or so.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max<int64_t>(1, idle_timeout.count() / 1000)));
  } else {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  }

  // TLS: the cluster's CA (or the system's), the client certificate when the kubeconfig has one.
  curl_blob ca = blob(connection_.ca_pem), cert = blob(connection_.client_certificate_pem),
            key = blob(connection_.client_key_pem);
  if (!connection_.ca_pem.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
  if (connection_.insecure_skip_tls_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!connection_.client_certificate_pem.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }

  curl_slist* headers = nullptr;
  const std::string token = connection_.token_file.empty() ? connection_.token : read_token_file(connection_.token_file);
  std::string authorization, content_type_header;
  if (!token.empty()) {
    authorization = "Authorization: Bearer " + token;
    headers = curl_slist_append(headers, authorization.c_str());
  } else if (!connection_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, connection_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, connection_.password.c_str());
  }
  headers = curl_slist_append(headers, "Accept: application/json");
  if (body) {
    content_type_header = "Content-Type: " + std::string(content_type);
    headers = curl_slist_append(headers, content_type_header.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const std::string user_agent = "mirrorgate/" + std::string(version());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());

  using WriteFn = size_t (*)(char*, size_t, size_t, void*);
  WriteFn write = [](char* data, size_t size, size_t count, void* self) {
    return static_cast<Transfer*>(self)->write(data, size * count);
  };
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  WriteFn header = [](char* data, size_t size, size_t count, void* self) {
    return static_cast<Transfer*>(self)->header(data, size * count);
  };
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  using ProgressFn = int (*)(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
  ProgressFn progress = [](void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* t = static_cast<Transfer*>(self);
    return t->stop && t->stop->load() ? 1 : 0;  // libcurl calls this at least once a second
  };
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);

  ApiResponse response;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_off_t retry_after = 0;
  if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0)
    response.retry_after = std::chrono::seconds(retry_after);
  response.body = std::move(transfer.body);
  if (code == CURLE_OK) {
    if (on_line && !transfer.partial_line.empty() && transfer.streaming_lines) (*on_line)(transfer.partial_line);
    return response;
  }
  if (transfer.ended_by_reader) {
    response.transport_error = "ended by the reader";
  } else if (code == CURLE_ABORTED_BY_CALLBACK) {
    response.transport_error = "stopped";
  } else if (code == CURLE_OPERATION_TIMEDOUT && on_line && response.status != 0) {
    response.transport_error = "stream idle";
  } else {
    response.transport_error = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
  }
  if (!on_line) response.status = 0;  // a request that failed has no answer; a cut stream keeps its status
  return response;
}

std::string url_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace mg::k8s
