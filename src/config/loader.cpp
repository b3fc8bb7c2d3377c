#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>

namespace mg::config {
namespace {

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

// Who is being parsed, so that every error can name the object without threading it through calls.
struct Context {
  std::string file;
  std::string kind;
  std::string object;  // "namespace/name", "name" for cluster-scoped kinds, "" before metadata is read
};

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : 0;
}

// "<file>:<line>: ", or "<file>: " for a node built in code (no line).
std::string location(const std::string& file, int line) {
  return line > 0 ? file + ":" + std::to_string(line) + ": " : file + ": ";
}

[[noreturn]] void fail_at(const Context& ctx, int line, std::string_view path, std::string_view problem) {
  std::string msg = location(ctx.file, line) + ctx.kind;
  if (!ctx.object.empty()) msg += " " + ctx.object;
  msg += ": ";
  if (!path.empty()) msg += std::string(path) + ": ";
  msg += problem;
  throw ConfigError(msg);
}

bool is_null(const YAML::Node& n) {
  return !n.IsDefined() || n.IsNull();
}

bool is_plain(const YAML::Node& n) {
  return n.Tag() == "?";
}

bool looks_like_int(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool looks_like_bool(std::string_view s) {
  return s == "true" || s == "false" || s == "True" || s == "False" || s == "TRUE" || s == "FALSE";
}

bool looks_like_float(std::string_view s) {
  if (s.empty()) return false;
  char* end = nullptr;
  const std::string copy(s);
  std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && std::any_of(s.begin(), s.end(), ::isdigit);
}

// How a value reads to a person, for "expected X, got Y".
std::string describe(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "null";
  const std::string& s = n.Scalar();
  if (!is_plain(n)) return "string \"" + s + "\"";
  if (looks_like_int(s)) return "integer " + s;
  if (looks_like_bool(s)) return "boolean " + s;
  if (looks_like_float(s)) return "number " + s;
  return "\"" + s + "\"";
}

std::string join_path(const std::string& base, std::string_view key) {
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}

std::string index_path(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

// One YAML mapping being decoded. Every field read is recorded; finish() then rejects whatever is
// left, which is how unknown fields (typos) become errors with their full path.
class Obj {
 public:
  Obj(const Context& ctx, YAML::Node node, std::string path)
      : ctx_(ctx), node_(std::move(node)), path_(std::move(path)) {
    if (!node_.IsMap()) fail(node_, path_, "expected a map, got " + describe(node_));
    std::set<std::string> seen;
    for (const auto& kv : node_) {
      const std::string key = kv.first.Scalar();
      if (!seen.insert(key).second) fail(kv.first, join_path(path_, key), "duplicate field");
    }
  }

  const std::string& path() const { return path_; }
  const YAML::Node& node() const { return node_; }
  const Context& ctx() const { return ctx_; }

  [[noreturn]] void fail(const YAML::Node& at, std::string_view path, std::string_view problem) const {
    fail_at(ctx_, line_of(at), path, problem);
  }

  // Null counts as absent, as in the API server.
  bool has(std::string_view key) { return !is_null(raw(key)); }

  // Lookups go through a const node: yaml-cpp's non-const operator[] may insert the key.
  YAML::Node raw(std::string_view key) {
    used_.insert(std::string(key));
    const YAML::Node& n = node_;
    return n[std::string(key)];
  }

  std::string sub(std::string_view key) const { return join_path(path_, key); }

  void require(std::string_view key) {
    if (!has(key)) fail(node_, sub(key), "required field is missing");
  }

  std::optional<std::string> str(std::string_view key) {
    if (!has(key)) return std::nullopt;
    return as_string(raw(key), sub(key));
  }
  std::string str_or(std::string_view key, std::string fallback) {
    auto v = str(key);
    return v ? *v : std::move(fallback);
  }
  std::string req_str(std::string_view key) {
    require(key);
    return *str(key);
  }

  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) {
    if (!has(key)) return std::nullopt;
    return as_int(raw(key), sub(key), min, max);
  }
  std::optional<int32_t> int32(std::string_view key, int64_t min = INT32_MIN, int64_t max = INT32_MAX) {
    auto v = integer(key, min, max);
    if (!v) return std::nullopt;
    return static_cast<int32_t>(*v);
  }

  std::optional<bool> boolean(std::string_view key) {
    if (!has(key)) return std::nullopt;
    const YAML::Node n = raw(key);
    if (!n.IsScalar() || !is_plain(n) || !looks_like_bool(n.Scalar()))
      fail(n, sub(key), "expected a boolean, got " + describe(n));
    return n.Scalar()[0] == 't' || n.Scalar()[0] == 'T';
  }

  std::optional<Obj> obj(std::string_view key) {
    if (!has(key)) return std::nullopt;
    return Obj(ctx_, raw(key), sub(key));
  }

  // Calls f(item, item_path) for each element of a list field.
  void list(std::string_view key, const std::function<void(const YAML::Node&, const std::string&)>& f,
            size_t max_items = 0) {
    if (!has(key)) return;
    const YAML::Node n = raw(key);
    if (!n.IsSequence()) fail(n, sub(key), "expected a list, got " + describe(n));
    if (max_items != 0 && n.size() > max_items)
      fail(n, sub(key),
           "too many items (" + std::to_string(n.size()) + "), at most " + std::to_string(max_items));
    for (size_t i = 0; i < n.size(); ++i) f(n[i], index_path(sub(key), i));
  }

  template <typename T, typename F>
  std::vector<T> objects(std::string_view key, F decode, size_t max_items = 0) {
    std::vector<T> out;
    list(
        key, [&](const YAML::Node& item, const std::string& p) { out.push_back(decode(Obj(ctx_, item, p))); },
        max_items);
    return out;
  }

  std::vector<std::string> strings(std::string_view key, size_t max_items = 0) {
    std::vector<std::string> out;
    list(
        key, [&](const YAML::Node& item, const std::string& p) { out.push_back(as_string(item, p)); },
        max_items);
    return out;
  }

  std::map<std::string, std::string> string_map(std::string_view key) {
    std::map<std::string, std::string> out;
    if (!has(key)) return out;
    const YAML::Node n = raw(key);
    if (!n.IsMap()) fail(n, sub(key), "expected a map, got " + describe(n));
    for (const auto& kv : n) {
      const std::string k = kv.first.Scalar();
      if (is_null(kv.second)) {
        out[k] = "";
        continue;
      }
      out[k] = as_string(kv.second, join_path(sub(key), k));
    }
    return out;
  }

  // Accepts any value: for fields the schema allows but whose content mirrorgate never reads.
  void ignore(std::string_view key) { used_.insert(std::string(key)); }

  void finish() const {
    for (const auto& kv : node_) {
      const std::string key = kv.first.Scalar();
      if (!used_.count(key)) fail(kv.first, join_path(path_, key), "unknown field");
    }
  }

  std::string as_string(const YAML::Node& n, const std::string& p) const {
    if (!n.IsScalar()) fail(n, p, "expected a string, got " + describe(n));
    const std::string& s = n.Scalar();
    // Plain scalars that YAML reads as numbers or booleans are not strings to the API server either.
    if (is_plain(n) && (looks_like_int(s) || looks_like_bool(s) || looks_like_float(s)))
      fail(n, p, "expected a string, got " + describe(n) + " (quote it)");
    return s;
  }

  int64_t as_int(const YAML::Node& n, const std::string& p, int64_t min, int64_t max) const {
    if (!n.IsScalar() || !is_plain(n) || !looks_like_int(n.Scalar()))
      fail(n, p, "expected an integer, got " + describe(n));
    int64_t v = 0;
    try {
      v = std::stoll(n.Scalar());
    } catch (const std::exception&) {
      fail(n, p, "integer out of range: " + n.Scalar());
    }
    if (v < min || v > max)
      fail(n, p,
           "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + n.Scalar());
    return v;
  }

 private:
  const Context& ctx_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
};

void check_enum(Obj& o, std::string_view key, const std::string& value,
                std::initializer_list<std::string_view> allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  o.fail(o.raw(key), o.sub(key), "unsupported value \"" + value + "\", expected one of: " + list);
}

// Dot-separated lowercase RFC 1123 labels, at most 253 characters, each label at most `max_label`.
bool valid_labels(std::string_view s, size_t max_label) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || (label == 0 && c == '-') || ++label > max_label) return false;
  }
  return label != 0 && s.back() != '-';
}

// RFC 1123 subdomain with an optional leading "*." label, as Gateway API Hostname.
bool valid_hostname(std::string_view h) {
  if (h.substr(0, 2) == "*.") h.remove_prefix(2);
  return valid_labels(h, 63);
}

// Gateway API SectionName: the CRDs' pattern, which sets no length per label.
bool valid_section_name(std::string_view s) { return valid_labels(s, 253); }

std::string hostname_field(Obj& o, std::string_view key, const std::string& value) {
  if (!valid_hostname(value))
    o.fail(o.raw(key), o.sub(key),
           "invalid hostname \"" + value + "\" (lowercase RFC 1123 name, optionally starting with \"*.\")");
  return value;
}

Duration duration_field(Obj& o, std::string_view key) {
  Duration d;
  d.text = o.req_str(key);
  if (!parse_duration(d.text, d.milliseconds))
    o.fail(o.raw(key), o.sub(key),
           "invalid duration \"" + d.text + "\" (e.g. \"500ms\", \"10s\", \"1m30s\")");
  return d;
}

std::optional<Duration> opt_duration(Obj& o, std::string_view key) {
  if (!o.has(key)) return std::nullopt;
  return duration_field(o, key);
}

// A byte size: an integer or a quantity string ("64Ki", "8Mi"), as Kubernetes writes resource sizes.
std::optional<uint64_t> opt_byte_quantity(Obj& o, std::string_view key) {
  if (!o.has(key)) return std::nullopt;
  const YAML::Node n = o.raw(key);
  const std::string p = o.sub(key);
  if (!n.IsScalar()) o.fail(n, p, "expected a byte size, got " + describe(n));
  uint64_t bytes = 0;
  if (!parse_byte_quantity(n.Scalar(), bytes))
    o.fail(n, p, "invalid byte size \"" + n.Scalar() + "\" (an integer, or a quantity such as \"64Ki\", \"8Mi\")");
  return bytes;
}

// spec.targetRefs of a policy (GEP-713): 1 to 16 objects in the policy's namespace, of the given kinds of
// `group` ("" is the core group); `section_names` says what a sectionName names, for its error.
std::vector<PolicyTargetReference> decode_policy_target_refs(Obj& spec, std::string_view group,
                                                             const std::vector<std::string_view>& kinds,
                                                             std::string_view section_names) {
  spec.require("targetRefs");
  auto refs = spec.objects<PolicyTargetReference>(
      "targetRefs",
      [&](Obj t) {
        PolicyTargetReference ref;
        ref.group = t.req_str("group");
        ref.kind = t.req_str("kind");
        ref.name = t.req_str("name");
        ref.section_name = t.str("sectionName");
        if (ref.section_name && !valid_section_name(*ref.section_name))
          t.fail(t.raw("sectionName"), t.sub("sectionName"),
                 "invalid section name \"" + *ref.section_name + "\" (" + std::string(section_names) + ")");
        if (ref.group != group || std::find(kinds.begin(), kinds.end(), ref.kind) == kinds.end()) {
          std::string allowed;
          for (auto k : kinds) allowed += (allowed.empty() ? "" : ", ") + std::string(k);
          const std::string of_group =
              group.empty() ? "the core group, group \"\"" : "group " + std::string(group);
          t.fail(t.node(), t.path(),
                 "unsupported target " + (ref.group.empty() ? std::string("core") : ref.group) + "/" + ref.kind +
                     " (supported: kind " + allowed + " of " + of_group + ")");
        }
        t.finish();
        return ref;
      },
      16);
  if (refs.empty()) spec.fail(spec.raw("targetRefs"), spec.sub("targetRefs"), "must name at least one target");
  return refs;
}

// What a Gateway API policy's sectionName may be (a listener's or a rule's name).
constexpr std::string_view kGatewaySectionNames =
    "lowercase RFC 1123 labels separated by \".\", at most 253 characters";

// --- shared pieces ---

LabelSelector decode_selector(Obj o) {
  LabelSelector s;
  s.match_labels = o.string_map("matchLabels");
  s.match_expressions = o.objects<LabelSelectorRequirement>("matchExpressions", [](Obj e) {
    LabelSelectorRequirement r;
    r.key = e.req_str("key");
    r.op = e.req_str("operator");
    check_enum(e, "operator", r.op, {"In", "NotIn", "Exists", "DoesNotExist"});
    r.values = e.strings("values");
    e.finish();
    return r;
  });
  o.finish();
  return s;
}

// Secret/Object references: group and kind default per call site; namespace allowed when asked.
ObjectReference decode_ref(Obj o, std::string default_group, std::string default_kind, bool with_namespace) {
  ObjectReference r;
  r.group = o.str_or("group", std::move(default_group));
  r.kind = o.str_or("kind", std::move(default_kind));
  r.name = o.req_str("name");
  if (with_namespace) r.namespace_ = o.str("namespace");
  o.finish();
  return r;
}

ParametersReference decode_params_ref(Obj o, bool with_namespace) {
  ParametersReference r;
  r.group = o.req_str("group");
  r.kind = o.req_str("kind");
  r.name = o.req_str("name");
  if (with_namespace) r.namespace_ = o.str("namespace");
  o.finish();
  return r;
}

RouteNamespaces decode_route_namespaces(Obj o, std::string default_from) {
  RouteNamespaces n;
  n.from = o.str_or("from", std::move(default_from));
  check_enum(o, "from", n.from, {"All", "Same", "Selector", "None"});
  if (auto sel = o.obj("selector")) n.selector = decode_selector(std::move(*sel));
  if (n.from == "Selector" && !n.selector)
    o.fail(o.node(), o.sub("selector"), "required when from is Selector");
  o.finish();
  return n;
}

// --- GatewayClass ---

void decode_gateway_class_spec(Obj o, GatewayClass& gc) {
  gc.controller_name = o.req_str("controllerName");
  if (auto p = o.obj("parametersRef")) gc.parameters_ref = decode_params_ref(std::move(*p), true);
  gc.description = o.str("description");
  o.finish();
}

// --- Gateway ---

FrontendTLSValidation decode_frontend_validation(Obj fv) {
  FrontendTLSValidation v;
  v.ca_certificate_refs = fv.objects<ObjectReference>(
      "caCertificateRefs", [](Obj r) { return decode_ref(std::move(r), "", "", true); }, 8);
  v.mode = fv.str("mode");
  if (v.mode) check_enum(fv, "mode", *v.mode, {"AllowValidOnly", "AllowInsecureFallback"});
  fv.finish();
  return v;
}

Listener decode_listener(Obj o) {
  Listener l;
  l.name = o.req_str("name");
  if (auto h = o.str("hostname")) l.hostname = hostname_field(o, "hostname", *h);
  o.require("port");
  l.port = *o.int32("port", 1, 65535);
  l.protocol = o.req_str("protocol");
  if (auto t = o.obj("tls")) {
    GatewayTLSConfig tls;
    tls.mode = t->str_or("mode", "Terminate");
    check_enum(*t, "mode", tls.mode, {"Terminate", "Passthrough"});
    tls.certificate_refs = t->objects<ObjectReference>(
        "certificateRefs", [](Obj r) { return decode_ref(std::move(r), "", "Secret", true); }, 64);
    if (auto fv = t->obj("frontendValidation")) tls.frontend_validation = decode_frontend_validation(std::move(*fv));
    tls.options = t->string_map("options");
    t->finish();
    l.tls = std::move(tls);
  }
  if (auto ar = o.obj("allowedRoutes")) {
    if (auto ns = ar->obj("namespaces"))
      l.allowed_routes.namespaces = decode_route_namespaces(std::move(*ns), "Same");
    l.allowed_routes.kinds = ar->objects<RouteGroupKind>(
        "kinds",
        [](Obj k) {
          RouteGroupKind rgk;
          rgk.group = k.str_or("group", std::string(kGatewayGroup));
          rgk.kind = k.req_str("kind");
          k.finish();
          return rgk;
        },
        8);
    ar->finish();
  }
  o.finish();
  return l;
}

void decode_gateway_spec(Obj o, Gateway& gw) {
  gw.gateway_class_name = o.req_str("gatewayClassName");
  o.require("listeners");
  gw.listeners = o.objects<Listener>("listeners", decode_listener, 64);
  std::set<std::string> names;
  for (size_t i = 0; i < gw.listeners.size(); ++i) {
    if (!names.insert(gw.listeners[i].name).second)
      o.fail(o.raw("listeners")[i], index_path(o.sub("listeners"), i) + ".name",
             "duplicate listener name \"" + gw.listeners[i].name + "\"");
  }
  gw.addresses = o.objects<GatewayAddress>(
      "addresses",
      [](Obj a) {
        GatewayAddress addr;
        addr.type = a.str_or("type", "IPAddress");
        addr.value = a.req_str("value");
        a.finish();
        return addr;
      },
      16);
  if (auto inf = o.obj("infrastructure")) {
    GatewayInfrastructure i;
    i.labels = inf->string_map("labels");
    i.annotations = inf->string_map("annotations");
    if (auto p = inf->obj("parametersRef")) i.parameters_ref = decode_params_ref(std::move(*p), false);
    inf->finish();
    gw.infrastructure = std::move(i);
  }
  if (auto bt = o.obj("backendTLS")) {
    GatewayBackendTLS b;
    if (auto c = bt->obj("clientCertificateRef"))
      b.client_certificate_ref = decode_ref(std::move(*c), "", "Secret", true);
    bt->finish();
    gw.backend_tls = std::move(b);
  }
  if (auto t = o.obj("tls")) {
    if (auto f = t->obj("frontend")) {
      GatewayFrontendTLS frontend;
      if (auto d = f->obj("default")) {
        if (auto v = d->obj("validation")) frontend.default_validation = decode_frontend_validation(std::move(*v));
        d->finish();
      }
      frontend.per_port = f->objects<GatewayFrontendPort>(
          "perPort",
          [](Obj p) {
            GatewayFrontendPort port;
            p.require("port");
            port.port = *p.int32("port", 1, 65535);
            p.require("tls");
            auto tls = p.obj("tls");
            if (auto v = tls->obj("validation")) port.validation = decode_frontend_validation(std::move(*v));
            tls->finish();
            p.finish();
            return port;
          },
          64);
      f->finish();
      gw.tls_frontend = std::move(frontend);
    }
    t->finish();
  }
  if (auto al = o.obj("allowedListeners")) {
    AllowedListeners a;
    if (auto ns = al->obj("namespaces")) a.namespaces = decode_route_namespaces(std::move(*ns), "None");
    al->finish();
    gw.allowed_listeners = std::move(a);
  }
  o.finish();
}

// --- HTTPRoute ---

// An RFC 9110 token: header names, and methods.
bool valid_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// Empty when `name` is a header name the Gateway API accepts (HTTPHeaderName: a token of at most 256
// characters, as the CRDs say too), else why not.
std::string header_name_problem(std::string_view name) {
  constexpr size_t kMaxHeaderName = 256;
  if (name.size() > kMaxHeaderName)
    return "header name of " + std::to_string(name.size()) + " characters (at most " +
           std::to_string(kMaxHeaderName) + ")";
  if (!valid_token(name)) return "invalid header name \"" + std::string(name) + "\"";
  return "";
}

HTTPHeaderMatch decode_header_match(Obj o, bool header) {
  HTTPHeaderMatch m;
  m.type = o.str_or("type", "Exact");
  check_enum(o, "type", m.type, {"Exact", "RegularExpression"});
  m.name = o.req_str("name");
  if (const std::string problem = header ? header_name_problem(m.name) : ""; !problem.empty())
    o.fail(o.raw("name"), o.sub("name"), problem);
  m.value = o.req_str("value");
  o.finish();
  return m;
}

HTTPRouteMatch decode_match(Obj o) {
  HTTPRouteMatch m;
  if (auto p = o.obj("path")) {
    m.path.type = p->str_or("type", "PathPrefix");
    check_enum(*p, "type", m.path.type, {"Exact", "PathPrefix", "RegularExpression"});
    m.path.value = p->str_or("value", "/");
    if (m.path.type != "RegularExpression" && (m.path.value.empty() || m.path.value[0] != '/'))
      p->fail(p->raw("value"), p->sub("value"), "must be an absolute path starting with \"/\"");
    p->finish();
  }
  auto unique_names = [&](std::string_view key, const std::vector<HTTPHeaderMatch>& v, bool fold) {
    std::set<std::string> seen;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string n = v[i].name;
      if (fold)
        std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
      if (!seen.insert(n).second)
        o.fail(o.raw(key)[i], index_path(o.sub(key), i) + ".name", "duplicate name \"" + v[i].name + "\"");
    }
  };
  m.headers = o.objects<HTTPHeaderMatch>(
      "headers", [](Obj h) { return decode_header_match(std::move(h), true); }, 16);
  unique_names("headers", m.headers, true);
  m.query_params = o.objects<HTTPHeaderMatch>(
      "queryParams", [](Obj h) { return decode_header_match(std::move(h), false); }, 16);
  unique_names("queryParams", m.query_params, false);
  if (auto meth = o.str("method")) {
    check_enum(o, "method", *meth,
               {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"});
    m.method = std::move(meth);
  }
  o.finish();
  return m;
}

HTTPHeaderFilter decode_header_filter(Obj o) {
  HTTPHeaderFilter f;
  auto headers = [](Obj h) {
    HTTPHeader hd;
    hd.name = h.req_str("name");
    if (const std::string problem = header_name_problem(hd.name); !problem.empty())
      h.fail(h.raw("name"), h.sub("name"), problem);
    hd.value = h.req_str("value");
    h.finish();
    return hd;
  };
  f.set = o.objects<HTTPHeader>("set", headers, 16);
  f.add = o.objects<HTTPHeader>("add", headers, 16);
  f.remove = o.strings("remove", 16);
  o.finish();
  return f;
}

BackendObjectReference decode_backend_object_ref(Obj& o) {
  BackendObjectReference r;
  r.group = o.str_or("group", "");
  r.kind = o.str_or("kind", "Service");
  r.name = o.req_str("name");
  r.namespace_ = o.str("namespace");
  r.port = o.int32("port", 1, 65535);
  return r;
}

HTTPPathModifier decode_path_modifier(Obj o) {
  HTTPPathModifier m;
  m.type = o.req_str("type");
  check_enum(o, "type", m.type, {"ReplaceFullPath", "ReplacePrefixMatch"});
  m.replace_full_path = o.str("replaceFullPath");
  m.replace_prefix_match = o.str("replacePrefixMatch");
  if (m.type == "ReplaceFullPath" && !m.replace_full_path)
    o.fail(o.node(), o.sub("replaceFullPath"), "required when type is ReplaceFullPath");
  if (m.type == "ReplacePrefixMatch" && !m.replace_prefix_match)
    o.fail(o.node(), o.sub("replacePrefixMatch"), "required when type is ReplacePrefixMatch");
  o.finish();
  return m;
}

HTTPRouteFilter decode_filter(Obj o) {
  HTTPRouteFilter f;
  f.type = o.req_str("type");
  check_enum(o, "type", f.type,
             {"RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "RequestRedirect",
              "URLRewrite", "CORS", "ExternalAuth", "ExtensionRef"});
  if (auto h = o.obj("requestHeaderModifier"))
    f.request_header_modifier = decode_header_filter(std::move(*h));
  if (auto h = o.obj("responseHeaderModifier"))
    f.response_header_modifier = decode_header_filter(std::move(*h));
  if (auto m = o.obj("requestMirror")) {
    HTTPRequestMirrorFilter rm;
    m->require("backendRef");
    Obj br = *m->obj("backendRef");
    rm.backend_ref = decode_backend_object_ref(br);
    br.finish();
    rm.percent = m->int32("percent", 0, 100);
    if (auto fr = m->obj("fraction")) {
      Fraction frac;
      fr->require("numerator");
      frac.numerator = *fr->int32("numerator", 0);
      frac.denominator = fr->int32("denominator", 1).value_or(100);
      if (frac.numerator > frac.denominator)
        fr->fail(fr->node(), fr->sub("numerator"), "must be less than or equal to denominator");
      fr->finish();
      rm.fraction = frac;
    }
    if (rm.percent && rm.fraction)
      m->fail(m->node(), m->path(), "only one of percent and fraction may be set");
    m->finish();
    f.request_mirror = std::move(rm);
  }
  if (auto r = o.obj("requestRedirect")) {
    HTTPRequestRedirectFilter rr;
    rr.scheme = r->str("scheme");
    if (rr.scheme) check_enum(*r, "scheme", *rr.scheme, {"http", "https"});
    if (auto h = r->str("hostname")) rr.hostname = hostname_field(*r, "hostname", *h);
    if (auto p = r->obj("path")) rr.path = decode_path_modifier(std::move(*p));
    rr.port = r->int32("port", 1, 65535);
    rr.status_code = r->int32("statusCode").value_or(302);
    if (r->has("statusCode"))
      check_enum(*r, "statusCode", std::to_string(rr.status_code), {"301", "302", "303", "307", "308"});
    r->finish();
    f.request_redirect = std::move(rr);
  }
  if (auto u = o.obj("urlRewrite")) {
    HTTPURLRewriteFilter uw;
    if (auto h = u->str("hostname")) uw.hostname = hostname_field(*u, "hostname", *h);
    if (auto p = u->obj("path")) uw.path = decode_path_modifier(std::move(*p));
    u->finish();
    f.url_rewrite = std::move(uw);
  }
  if (auto c = o.obj("cors")) {
    HTTPCORSFilter cors;
    cors.allow_origins = c->strings("allowOrigins", 64);
    cors.allow_credentials = c->boolean("allowCredentials");
    cors.allow_methods = c->strings("allowMethods", 9);
    cors.allow_headers = c->strings("allowHeaders", 64);
    cors.expose_headers = c->strings("exposeHeaders", 64);
    cors.max_age = c->int32("maxAge", 1).value_or(5);
    c->finish();
    f.cors = std::move(cors);
  }
  if (auto e = o.obj("externalAuth")) {
    HTTPExternalAuthFilter ea;
    ea.protocol = e->req_str("protocol");
    check_enum(*e, "protocol", ea.protocol, {"HTTP", "GRPC"});
    e->require("backendRef");
    Obj br = *e->obj("backendRef");
    ea.backend_ref = decode_backend_object_ref(br);
    br.finish();
    if (auto g = e->obj("grpc")) {
      ea.has_grpc = true;
      ea.grpc_allowed_headers = g->strings("allowedHeaders", 64);
      g->finish();
    }
    if (auto h = e->obj("http")) {
      ea.has_http = true;
      ea.http_path = h->str("path");
      ea.http_allowed_headers = h->strings("allowedHeaders", 64);
      ea.http_allowed_response_headers = h->strings("allowedResponseHeaders", 64);
      h->finish();
    }
    if (auto fb = e->obj("forwardBody")) {
      ea.forward_body_max_size = fb->int32("maxSize", 0);
      fb->finish();
    }
    e->finish();
    f.external_auth = std::move(ea);
  }
  if (auto x = o.obj("extensionRef")) {
    LocalObjectReference r;
    r.group = x->req_str("group");
    r.kind = x->req_str("kind");
    r.name = x->req_str("name");
    x->finish();
    f.extension_ref = std::move(r);
  }
  // The schema's CEL rules: the config stanza must match the type, and no other stanza may be set.
  const std::pair<std::string_view, bool> stanzas[] = {
      {"RequestHeaderModifier", f.request_header_modifier.has_value()},
      {"ResponseHeaderModifier", f.response_header_modifier.has_value()},
      {"RequestMirror", f.request_mirror.has_value()},
      {"RequestRedirect", f.request_redirect.has_value()},
      {"URLRewrite", f.url_rewrite.has_value()},
      {"CORS", f.cors.has_value()},
      {"ExternalAuth", f.external_auth.has_value()},
      {"ExtensionRef", f.extension_ref.has_value()},
  };
  auto field_for = [](std::string_view type) -> std::string {
    if (type == "URLRewrite") return "urlRewrite";
    if (type == "CORS") return "cors";
    std::string s(type);
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
  };
  for (const auto& [type, present] : stanzas) {
    if (type == f.type && !present)
      o.fail(o.node(), o.sub(field_for(type)), "required when type is " + std::string(type));
    if (type != f.type && present)
      o.fail(o.raw(field_for(type)), o.sub(field_for(type)), "must not be set when type is " + f.type);
  }
  o.finish();
  return f;
}

void check_filter_rules(Obj& o, std::string_view key, const std::vector<HTTPRouteFilter>& filters) {
  bool redirect = false, rewrite = false;
  std::set<std::string> once;
  for (size_t i = 0; i < filters.size(); ++i) {
    const auto& t = filters[i].type;
    redirect |= t == "RequestRedirect";
    rewrite |= t == "URLRewrite";
    if (t != "RequestMirror" && t != "ExtensionRef" && !once.insert(t).second)
      o.fail(o.raw(key)[i], index_path(o.sub(key), i) + ".type", t + " may appear at most once");
  }
  if (redirect && rewrite)
    o.fail(o.raw(key), o.sub(key), "RequestRedirect and URLRewrite cannot both be set");
}

// A backendRef's weight: 0 to 1,000,000, 1 when absent (HTTPRoute and TLSRoute alike).
int32_t decode_backend_weight(Obj& b) { return b.int32("weight", 0, 1000000).value_or(1); }

HTTPRouteRule decode_rule(Obj o) {
  HTTPRouteRule r;
  r.name = o.str("name");
  r.matches = o.objects<HTTPRouteMatch>("matches", decode_match, 64);
  if (r.matches.empty()) r.matches.emplace_back();  // schema default: PathPrefix "/"
  r.filters = o.objects<HTTPRouteFilter>("filters", decode_filter, 16);
  check_filter_rules(o, "filters", r.filters);
  r.backend_refs = o.objects<HTTPBackendRef>(
      "backendRefs",
      [](Obj b) {
        HTTPBackendRef br;
        br.ref = decode_backend_object_ref(b);
        br.weight = decode_backend_weight(b);
        br.filters = b.objects<HTTPRouteFilter>("filters", decode_filter, 16);
        check_filter_rules(b, "filters", br.filters);
        b.finish();
        return br;
      },
      16);
  if (auto t = o.obj("timeouts")) {
    HTTPRouteTimeouts to;
    to.request = opt_duration(*t, "request");
    to.backend_request = opt_duration(*t, "backendRequest");
    t->finish();
    r.timeouts = std::move(to);
  }
  if (auto rt = o.obj("retry")) {
    HTTPRouteRetry retry;
    rt->list("codes", [&](const YAML::Node& n, const std::string& p) {
      retry.codes.push_back(static_cast<int32_t>(rt->as_int(n, p, 400, 599)));
    });
    retry.attempts = rt->int32("attempts", 0);
    retry.backoff = opt_duration(*rt, "backoff");
    rt->finish();
    r.retry = std::move(retry);
  }
  if (auto sp = o.obj("sessionPersistence")) {
    SessionPersistence s;
    s.session_name = sp->str("sessionName");
    s.absolute_timeout = opt_duration(*sp, "absoluteTimeout");
    s.idle_timeout = opt_duration(*sp, "idleTimeout");
    s.type = sp->str_or("type", "Cookie");
    check_enum(*sp, "type", s.type, {"Cookie", "Header"});
    if (auto cc = sp->obj("cookieConfig")) {
      s.cookie_lifetime_type = cc->str("lifetimeType");
      if (s.cookie_lifetime_type)
        check_enum(*cc, "lifetimeType", *s.cookie_lifetime_type, {"Permanent", "Session"});
      cc->finish();
    }
    sp->finish();
    r.session_persistence = std::move(s);
  }
  o.finish();
  return r;
}

// A route's spec.parentRefs (HTTPRoute, TLSRoute).
std::vector<ParentReference> decode_parent_refs(Obj& o) {
  return o.objects<ParentReference>(
      "parentRefs",
      [](Obj p) {
        ParentReference ref;
        ref.group = p.str_or("group", std::string(kGatewayGroup));
        ref.kind = p.str_or("kind", "Gateway");
        ref.namespace_ = p.str("namespace");
        ref.name = p.req_str("name");
        ref.section_name = p.str("sectionName");
        ref.port = p.int32("port", 1, 65535);
        p.finish();
        return ref;
      },
      32);
}

// A route's spec.hostnames (HTTPRoute, TLSRoute).
std::vector<std::string> decode_route_hostnames(Obj& o, size_t max_items) {
  std::vector<std::string> hostnames;
  o.list(
      "hostnames",
      [&](const YAML::Node& n, const std::string& p) {
        std::string h = o.as_string(n, p);
        if (!valid_hostname(h))
          o.fail(n, p,
                 "invalid hostname \"" + h + "\" (lowercase RFC 1123 name, optionally starting with \"*.\")");
        hostnames.push_back(std::move(h));
      },
      max_items);
  return hostnames;
}

void decode_http_route_spec(Obj o, HTTPRoute& route) {
  route.parent_refs = decode_parent_refs(o);
  route.hostnames = decode_route_hostnames(o, 16);
  route.rules = o.objects<HTTPRouteRule>("rules", decode_rule, 16);
  if (route.rules.empty()) {  // schema default: one rule matching everything
    route.rules.emplace_back();
    route.rules.back().matches.emplace_back();
  }
  std::set<std::string> names;
  for (size_t i = 0; i < route.rules.size(); ++i) {
    if (route.rules[i].name && !names.insert(*route.rules[i].name).second)
      o.fail(o.raw("rules")[i], index_path(o.sub("rules"), i) + ".name",
             "duplicate rule name \"" + *route.rules[i].name + "\"");
  }
  o.finish();
}

// TLSRoute v1 has exactly one rule and at least one hostname; v1alpha2 allowed none and up to 16 rules,
// which are read the same way.
void decode_tls_route_spec(Obj o, TLSRoute& route) {
  route.parent_refs = decode_parent_refs(o);
  route.hostnames = decode_route_hostnames(o, 1024);
  route.rules = o.objects<TLSRouteRule>(
      "rules",
      [](Obj r) {
        TLSRouteRule rule;
        rule.name = r.str("name");
        rule.backend_refs = r.objects<BackendRef>(
            "backendRefs",
            [](Obj b) {
              BackendRef br;
              br.ref = decode_backend_object_ref(b);
              br.weight = decode_backend_weight(b);
              b.finish();
              return br;
            },
            16);
        r.finish();
        return rule;
      },
      16);
  o.finish();
}

// --- ReferenceGrant ---

void decode_reference_grant_spec(Obj o, ReferenceGrant& rg) {
  o.require("from");
  o.require("to");
  rg.from = o.objects<ReferenceGrantFrom>(
      "from",
      [](Obj f) {
        ReferenceGrantFrom r;
        f.require("group");
        r.group = *f.str("group");
        r.kind = f.req_str("kind");
        r.namespace_ = f.req_str("namespace");
        f.finish();
        return r;
      },
      16);
  rg.to = o.objects<ReferenceGrantTo>(
      "to",
      [](Obj t) {
        ReferenceGrantTo r;
        t.require("group");
        r.group = *t.str("group");
        r.kind = t.req_str("kind");
        r.name = t.str("name");
        t.finish();
        return r;
      },
      16);
  o.finish();
}

// --- MirrorPolicy ---

// Appended to the Host of a copy, so the combined name must stay a DNS name: lowercase RFC 1123
// characters, no empty label inside or at the end.
bool valid_host_suffix(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.back() == '.' || s.find("..") != std::string_view::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

// RFC 6901; the empty pointer (the whole document) would ignore every body, so a path must start with "/".
bool valid_json_pointer(std::string_view s) {
  if (s.empty() || s[0] != '/') return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '~' && (i + 1 == s.size() || (s[i + 1] != '0' && s[i + 1] != '1'))) return false;
  return true;
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A list of strings, each checked by `check` (which fails itself), unique after `fold`.
std::vector<std::string> unique_strings(
    Obj& o, std::string_view key, size_t max_items,
    const std::function<void(const YAML::Node&, const std::string&, const std::string&)>& check,
    std::string (*fold)(std::string)) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  o.list(
      key,
      [&](const YAML::Node& n, const std::string& p) {
        std::string v = o.as_string(n, p);
        check(n, p, v);
        if (!seen.insert(fold(v)).second) o.fail(n, p, "duplicate value \"" + v + "\"");
        out.push_back(std::move(v));
      },
      max_items);
  if (o.has(key) && out.empty())
    o.fail(o.raw(key), o.sub(key), "must not be empty (leave the field out instead)");
  return out;
}

void decode_mirror_policy_spec(Obj o, MirrorPolicy& p) {
  p.target_refs = decode_policy_target_refs(o, kGatewayGroup, {"HTTPRoute"}, kGatewaySectionNames);
  for (size_t i = 0; i < p.target_refs.size(); ++i) {
    const auto& a = p.target_refs[i];
    for (size_t j = 0; j < i; ++j) {
      const auto& b = p.target_refs[j];
      if (std::tie(a.group, a.kind, a.name, a.section_name) ==
          std::tie(b.group, b.kind, b.name, b.section_name))
        o.fail(o.raw("targetRefs")[i], index_path(o.sub("targetRefs"), i),
               "same target as targetRefs[" + std::to_string(j) + "]");
    }
  }
  if ((p.timeout = opt_duration(o, "timeout")) && p.timeout->milliseconds == 0)
    o.fail(o.raw("timeout"), o.sub("timeout"),
           "must be longer than 0s (a mirror copy always has a deadline)");
  p.max_in_flight = o.int32("maxInFlight", 1, 1000000);
  if ((p.max_bytes_in_flight = opt_byte_quantity(o, "maxBytesInFlight")) && *p.max_bytes_in_flight == 0)
    o.fail(o.raw("maxBytesInFlight"), o.sub("maxBytesInFlight"), "must be at least 1 byte");
  p.max_body_size = opt_byte_quantity(o, "maxBodySize");
  if ((p.host_suffix = o.str("hostSuffix")) && !valid_host_suffix(*p.host_suffix))
    o.fail(o.raw("hostSuffix"), o.sub("hostSuffix"),
           "invalid host suffix \"" + *p.host_suffix +
               "\" (1 to 63 lowercase letters, digits, \"-\" and \".\", e.g. \"-shadow\")");
  if (auto h = o.obj("requestHeaderModifier")) {
    const YAML::Node node = h->node();
    const std::string path = h->path();
    p.request_header_modifier = decode_header_filter(std::move(*h));
    const auto& edits = *p.request_header_modifier;
    // Stricter than HTTPRoute: a name that cannot be a header is a typo that would leave a credential in.
    for (size_t i = 0; i < edits.remove.size(); ++i)
      if (const std::string problem = header_name_problem(edits.remove[i]); !problem.empty())
        o.fail(node["remove"][i], index_path(join_path(path, "remove"), i), problem);
    // The fields that frame and identify a copy are the gateway's: an edit would be silently ignored.
    auto check_owned = [&](const char* list, size_t i, const std::string& name, bool removing) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      const bool owned = lower == "x-request-id" || lower == "x-mirrorgate-mirror" || lower == "traceparent" ||
                         lower == "content-length" ||
                         lower == "transfer-encoding" || lower == "connection" || (removing && lower == "host");
      if (owned)
        o.fail(node[list][i], index_path(join_path(path, list), i),
               "\"" + name + "\" is set by the gateway on every copy and cannot be edited" +
                   (lower == "host" ? " (use hostSuffix to tell copies apart)" : ""));
    };
    for (size_t i = 0; i < edits.set.size(); ++i) check_owned("set", i, edits.set[i].name, false);
    for (size_t i = 0; i < edits.add.size(); ++i) check_owned("add", i, edits.add[i].name, false);
    for (size_t i = 0; i < edits.remove.size(); ++i) check_owned("remove", i, edits.remove[i], true);
  }
  p.allowed_methods = unique_strings(
      o, "allowedMethods", 16,
      [&](const YAML::Node& n, const std::string& path, const std::string& m) {
        if (m.size() > 256) o.fail(n, path, "method of " + std::to_string(m.size()) + " characters (at most 256)");
        if (!valid_token(m))
          o.fail(n, path, "invalid method \"" + m + "\" (an HTTP method token such as GET)");
        std::string upper = m;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return std::toupper(c); });
        const std::initializer_list<std::string_view> standard = {
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
        if (upper != m && std::find(standard.begin(), standard.end(), upper) != standard.end())
          o.fail(n, path,
                 "methods are case-sensitive, \"" + m + "\" would never match; write \"" + upper + "\"");
      },
      [](std::string s) { return s; });
  if (auto c = o.obj("responseComparison")) {
    MirrorResponseComparison rc;
    rc.percent = c->int32("percent", 0, 100).value_or(100);
    rc.headers = unique_strings(
        *c, "headers", 32,
        [&](const YAML::Node& n, const std::string& path, const std::string& h) {
          if (const std::string problem = header_name_problem(h); !problem.empty()) c->fail(n, path, problem);
        },
        lowercase);
    rc.ignore_json_paths = unique_strings(
        *c, "ignoreJSONPaths", 64,
        [&](const YAML::Node& n, const std::string& path, const std::string& ptr) {
          if (!valid_json_pointer(ptr))
            c->fail(n, path,
                    "invalid JSON Pointer \"" + ptr +
                        "\" (RFC 6901: starts with \"/\", \"~\" only as \"~0\" or \"~1\", e.g. "
                        "\"/headers/Date\")");
        },
        [](std::string s) { return s; });
    rc.max_body_size = opt_byte_quantity(*c, "maxBodySize");
    c->finish();
    p.response_comparison = std::move(rc);
  }
  o.finish();
}

// --- core ---

void decode_service_spec(Obj o, Service& svc) {
  svc.type = o.str_or("type", "ClusterIP");
  check_enum(o, "type", svc.type, {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"});
  svc.selector = o.string_map("selector");
  svc.ports = o.objects<ServicePort>("ports", [](Obj p) {
    ServicePort sp;
    sp.name = p.str_or("name", "");
    sp.protocol = p.str_or("protocol", "TCP");
    check_enum(p, "protocol", sp.protocol, {"TCP", "UDP", "SCTP"});
    sp.app_protocol = p.str("appProtocol");
    p.require("port");
    sp.port = *p.int32("port", 1, 65535);
    sp.target_port = sp.port;
    if (p.has("targetPort")) {
      const YAML::Node t = p.raw("targetPort");
      if (t.IsScalar() && is_plain(t) && looks_like_int(t.Scalar()))
        sp.target_port = static_cast<int32_t>(p.as_int(t, p.sub("targetPort"), 1, 65535));
      else
        sp.target_port = p.as_string(t, p.sub("targetPort"));
    }
    sp.node_port = p.int32("nodePort", 0, 65535);
    p.finish();
    return sp;
  });
  svc.cluster_ip = o.str("clusterIP");
  svc.cluster_ips = o.strings("clusterIPs");
  svc.external_name = o.str("externalName");
  svc.publish_not_ready_addresses = o.boolean("publishNotReadyAddresses").value_or(false);
  // Valid Service fields that only matter to kube-proxy / cloud controllers.
  for (auto k : {"externalIPs", "sessionAffinity", "sessionAffinityConfig", "loadBalancerIP",
                 "loadBalancerSourceRanges", "loadBalancerClass", "externalTrafficPolicy",
                 "internalTrafficPolicy", "healthCheckNodePort", "ipFamilies", "ipFamilyPolicy",
                 "allocateLoadBalancerNodePorts", "trafficDistribution"})
    o.ignore(k);
  o.finish();
}

void decode_endpoint_slice(Obj& o, EndpointSlice& es) {
  es.address_type = o.req_str("addressType");
  check_enum(o, "addressType", es.address_type, {"IPv4", "IPv6", "FQDN"});
  es.endpoints = o.objects<Endpoint>("endpoints", [](Obj e) {
    Endpoint ep;
    e.require("addresses");
    ep.addresses = e.strings("addresses", 100);
    if (auto c = e.obj("conditions")) {
      ep.conditions.ready = c->boolean("ready");
      ep.conditions.serving = c->boolean("serving");
      ep.conditions.terminating = c->boolean("terminating");
      c->finish();
    }
    ep.hostname = e.str("hostname");
    ep.node_name = e.str("nodeName");
    ep.zone = e.str("zone");
    if (auto t = e.obj("targetRef")) {
      EndpointTargetRef r;
      r.kind = t->str_or("kind", "");
      r.namespace_ = t->str_or("namespace", "");
      r.name = t->str_or("name", "");
      r.uid = t->str_or("uid", "");
      for (auto k : {"apiVersion", "resourceVersion", "fieldPath"}) t->ignore(k);
      t->finish();
      ep.target_ref = std::move(r);
    }
    for (auto k : {"hints", "deprecatedTopology"}) e.ignore(k);
    e.finish();
    return ep;
  });
  es.ports = o.objects<EndpointPort>("ports", [](Obj p) {
    EndpointPort ep;
    ep.name = p.str("name");
    ep.protocol = p.str("protocol");
    ep.port = p.int32("port", 1, 65535);
    ep.app_protocol = p.str("appProtocol");
    p.finish();
    return ep;
  });
}

// --- ClientTrafficPolicy ---

// Bounds as the command-line flags have them: sizes and timeouts are positive (a zero header timeout
// would switch off the slowloris guard); only the body limit may be 0, which means unlimited.
void decode_client_traffic_policy_spec(Obj o, ClientTrafficPolicy& p) {
  p.target_refs = decode_policy_target_refs(o, kGatewayGroup, {"Gateway"}, kGatewaySectionNames);
  if (auto l = o.obj("limits")) {
    auto positive_size = [&](std::string_view key) {
      auto v = opt_byte_quantity(*l, key);
      if (v && *v == 0) l->fail(l->raw(key), l->sub(key), "must be at least 1 byte");
      return v;
    };
    p.limits.max_request_line_size = positive_size("maxRequestLineSize");
    p.limits.max_header_size = positive_size("maxHeaderSize");
    if (auto n = l->integer("maxHeaders", 1, 1'000'000)) p.limits.max_headers = static_cast<uint64_t>(*n);
    p.limits.max_request_body_size = opt_byte_quantity(*l, "maxRequestBodySize");
    l->finish();
  }
  if (auto t = o.obj("timeouts")) {
    auto positive_duration = [&](std::string_view key) {
      auto d = opt_duration(*t, key);
      if (d && d->milliseconds == 0) t->fail(t->raw(key), t->sub(key), "must be longer than 0s");
      return d;
    };
    p.timeouts.request_header = positive_duration("requestHeader");
    p.timeouts.idle = positive_duration("idle");
    t->finish();
  }
  if (auto t = o.obj("tls")) {
    ClientTrafficTls tls;
    // TLS 1.0 and 1.1 are refused outright (RFC 8996), as the CRD's enum does; "Auto" is the default.
    auto version = [&](std::string_view key) -> std::optional<std::string> {
      auto v = t->str(key);
      if (!v || *v == "Auto") return std::nullopt;
      if (*v == "1.0" || *v == "1.1")
        t->fail(t->raw(key), t->sub(key), "TLS " + *v + " is not supported (deprecated by RFC 8996); use 1.2 or 1.3");
      if (*v != "1.2" && *v != "1.3")
        t->fail(t->raw(key), t->sub(key), "unknown TLS version \"" + *v + "\" (Auto, 1.2 or 1.3)");
      return v;
    };
    tls.min_version = version("minVersion");
    tls.max_version = version("maxVersion");
    if (tls.min_version && tls.max_version && *tls.min_version > *tls.max_version)
      t->fail(t->raw("minVersion"), t->sub("minVersion"),
              "minVersion " + *tls.min_version + " is above maxVersion " + *tls.max_version);
    tls.ciphers = t->strings("ciphers", 64);
    for (size_t i = 0; i < tls.ciphers.size(); ++i) {
      const std::string& c = tls.ciphers[i];
      const bool name = !c.empty() && std::all_of(c.begin(), c.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
      });
      if (!name)
        t->fail(t->raw("ciphers")[i], t->sub("ciphers") + "[" + std::to_string(i) + "]",
                "\"" + c + "\" is not a cipher suite name (one OpenSSL name an entry, e.g. ECDHE-RSA-AES128-GCM-SHA256)");
    }
    tls.alpn_protocols = t->strings("alpnProtocols", 3);
    for (size_t i = 0; i < tls.alpn_protocols.size(); ++i) {
      const std::string& a = tls.alpn_protocols[i];
      if (a != "h2" && a != "http/1.1" && a != "http/1.0")
        t->fail(t->raw("alpnProtocols")[i], t->sub("alpnProtocols") + "[" + std::to_string(i) + "]",
                "unknown ALPN protocol \"" + a + "\" (h2, http/1.1 or http/1.0)");
      if (std::count(tls.alpn_protocols.begin(), tls.alpn_protocols.end(), a) > 1)
        t->fail(t->raw("alpnProtocols")[i], t->sub("alpnProtocols") + "[" + std::to_string(i) + "]",
                "\"" + a + "\" is listed twice");
    }
    t->finish();
    p.tls = std::move(tls);
  }
  o.finish();
}

// --- BackendTLSPolicy ---

// What the v1 CRD checks (its schema and CEL rules), so that a file is refused as the API server would.
// References that do not resolve are not the loader's business: status reports them.
void decode_backend_tls_policy_spec(Obj o, BackendTLSPolicy& p) {
  p.target_refs = decode_policy_target_refs(o, "", {"Service"}, "a Service port name");
  o.require("validation");
  Obj v = *o.obj("validation");
  p.validation.ca_certificate_refs = v.objects<ObjectReference>(
      "caCertificateRefs",
      [&](Obj r) {
        ObjectReference ref;
        ref.group = r.req_str("group");
        ref.kind = r.req_str("kind");
        ref.name = r.req_str("name");
        r.finish();
        return ref;
      },
      8);
  p.validation.well_known_ca_certificates = v.str("wellKnownCACertificates");
  if (p.validation.well_known_ca_certificates && *p.validation.well_known_ca_certificates != "System")
    v.fail(v.raw("wellKnownCACertificates"), v.sub("wellKnownCACertificates"),
           "unsupported value \"" + *p.validation.well_known_ca_certificates + "\", expected System");
  if (p.validation.well_known_ca_certificates && !p.validation.ca_certificate_refs.empty())
    v.fail(v.node(), v.path(), "must not contain both caCertificateRefs and wellKnownCACertificates");
  if (!p.validation.well_known_ca_certificates && p.validation.ca_certificate_refs.empty())
    v.fail(v.node(), v.path(), "must specify either caCertificateRefs or wellKnownCACertificates");
  p.validation.hostname = v.req_str("hostname");
  if (p.validation.hostname.starts_with("*.") || !valid_hostname(p.validation.hostname))
    v.fail(v.raw("hostname"), v.sub("hostname"),
           "invalid hostname \"" + p.validation.hostname + "\" (a lowercase RFC 1123 name, no wildcard)");
  p.validation.subject_alt_names = v.objects<SubjectAltName>(
      "subjectAltNames",
      [&](Obj a) {
        SubjectAltName san;
        san.type = a.req_str("type");
        check_enum(a, "type", san.type, {"Hostname", "URI"});
        if (san.type == "Hostname") {
          if (!a.has("hostname") || a.has("uri"))
            a.fail(a.node(), a.path(), "type Hostname takes hostname (and no uri)");
          san.hostname = hostname_field(a, "hostname", a.req_str("hostname"));
        } else {
          if (!a.has("uri") || a.has("hostname")) a.fail(a.node(), a.path(), "type URI takes uri (and no hostname)");
          san.uri = a.req_str("uri");
          const auto scheme = san.uri.find("://");
          if (scheme == std::string::npos || scheme == 0)
            a.fail(a.raw("uri"), a.sub("uri"), "invalid URI \"" + san.uri + "\" (scheme://authority/path)");
        }
        a.finish();
        return san;
      },
      5);
  v.finish();
  p.options = o.string_map("options");
  o.finish();
}

// --- the other kinds' bodies ---

// The kinds whose body is a required spec; decode_spec reads it.
template <typename T, void (*decode_spec)(Obj, T&)>
void decode_with_spec(Obj& top, T& object) {
  top.require("spec");
  decode_spec(*top.obj("spec"), object);
}

void decode_service(Obj& top, Service& svc) {
  if (auto s = top.obj("spec")) decode_service_spec(std::move(*s), svc);
}

void decode_namespace(Obj& top, Namespace&) {
  if (auto s = top.obj("spec")) {
    s->strings("finalizers");
    s->finish();
  }
}

void decode_config_map(Obj& top, ConfigMap& cm) {
  cm.data = top.string_map("data");
  top.string_map("binaryData");
  top.boolean("immutable");
}

void decode_secret(Obj& top, Secret& secret) {
  secret.type = top.str_or("type", "Opaque");
  secret.data = top.string_map("data");
  secret.string_data = top.string_map("stringData");
  top.boolean("immutable");
}

// --- documents ---

// Decodes a document's body (all but apiVersion, kind, metadata and status) and adds the object to its
// list of the ObjectSet. Empty for kinds that are accepted but never inspected.
using DecodeFn = std::function<void(Obj& top, ObjectMeta meta, const SourceLocation& src, ObjectSet& set)>;

struct KindInfo {
  std::vector<std::string_view> api_versions;
  bool namespaced = true;
  DecodeFn decode;
};

// One table entry: `decode` fills the object from the document, which then goes to set.*member.
template <typename T>
KindInfo decoded_kind(std::vector<std::string_view> api_versions, bool namespaced,
                      std::vector<T> ObjectSet::*member, void (*decode)(Obj&, T&)) {
  return {std::move(api_versions), namespaced,
          [member, decode](Obj& top, ObjectMeta meta, const SourceLocation& src, ObjectSet& set) {
            T object{};
            object.metadata = std::move(meta);
            object.source = src;
            decode(top, object);
            top.finish();  // before adding: an unknown top-level field leaves the object out too
            (set.*member).push_back(std::move(object));
          }};
}

// Adding a kind: one entry here, its decode function above, its list in ObjectSet and for_each_kind.
const std::unordered_map<std::string_view, KindInfo>& known_kinds() {
  static const std::unordered_map<std::string_view, KindInfo> kinds = [] {
    const std::vector<std::string_view> gw = {"gateway.networking.k8s.io/v1",
                                              "gateway.networking.k8s.io/v1beta1"};
    const std::vector<std::string_view> mg = {"mirrorgate.io/v1alpha1"};
    std::unordered_map<std::string_view, KindInfo> m;
    m.emplace("GatewayClass", decoded_kind(gw, false, &ObjectSet::gateway_classes,
                                           decode_with_spec<GatewayClass, decode_gateway_class_spec>));
    m.emplace("Gateway",
              decoded_kind(gw, true, &ObjectSet::gateways, decode_with_spec<Gateway, decode_gateway_spec>));
    m.emplace("HTTPRoute", decoded_kind(gw, true, &ObjectSet::http_routes,
                                        decode_with_spec<HTTPRoute, decode_http_route_spec>));
    m.emplace("TLSRoute", decoded_kind({"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"}, true,
                                       &ObjectSet::tls_routes, decode_with_spec<TLSRoute, decode_tls_route_spec>));
    m.emplace("ReferenceGrant",
              decoded_kind({"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1",
                            "gateway.networking.k8s.io/v1alpha2"},
                           true, &ObjectSet::reference_grants,
                           decode_with_spec<ReferenceGrant, decode_reference_grant_spec>));
    m.emplace("Service", decoded_kind({"v1"}, true, &ObjectSet::services, decode_service));
    m.emplace("EndpointSlice",
              decoded_kind({"discovery.k8s.io/v1"}, true, &ObjectSet::endpoint_slices,
                           decode_endpoint_slice));
    m.emplace("Namespace", decoded_kind({"v1"}, false, &ObjectSet::namespaces, decode_namespace));
    m.emplace("Secret", decoded_kind({"v1"}, true, &ObjectSet::secrets, decode_secret));
    m.emplace("ConfigMap", decoded_kind({"v1"}, true, &ObjectSet::config_maps, decode_config_map));
    m.emplace("MirrorPolicy", decoded_kind(mg, true, &ObjectSet::mirror_policies,
                                           decode_with_spec<MirrorPolicy, decode_mirror_policy_spec>));
    m.emplace("ClientTrafficPolicy",
              decoded_kind(mg, true, &ObjectSet::client_traffic_policies,
                           decode_with_spec<ClientTrafficPolicy, decode_client_traffic_policy_spec>));
    m.emplace("BackendTLSPolicy",
              decoded_kind({"gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha3"}, true,
                           &ObjectSet::backend_tls_policies,
                           decode_with_spec<BackendTLSPolicy, decode_backend_tls_policy_spec>));
    // Well-known kinds that commonly sit next to Gateway API objects in a manifest set; accepted so
    // users can point mirrorgate at the same files they apply, but never inspected.
    const std::pair<std::string_view, std::vector<std::string_view>> ignored[] = {
        {"ServiceAccount", {"v1"}},
        {"Pod", {"v1"}},
        {"Endpoints", {"v1"}},
        {"PersistentVolumeClaim", {"v1"}},
        {"LimitRange", {"v1"}},
        {"ResourceQuota", {"v1"}},
        {"Deployment", {"apps/v1"}},
        {"StatefulSet", {"apps/v1"}},
        {"DaemonSet", {"apps/v1"}},
        {"ReplicaSet", {"apps/v1"}},
        {"Job", {"batch/v1"}},
        {"CronJob", {"batch/v1"}},
        {"HorizontalPodAutoscaler", {"autoscaling/v1", "autoscaling/v2"}},
        {"PodDisruptionBudget", {"policy/v1"}},
        {"NetworkPolicy", {"networking.k8s.io/v1"}},
        {"Role", {"rbac.authorization.k8s.io/v1"}},
        {"ClusterRole", {"rbac.authorization.k8s.io/v1"}},
        {"RoleBinding", {"rbac.authorization.k8s.io/v1"}},
        {"ClusterRoleBinding", {"rbac.authorization.k8s.io/v1"}},
    };
    for (const auto& [name, versions] : ignored) m.emplace(name, KindInfo{versions, true, {}});
    return m;
  }();
  return kinds;
}

// What the API server's generation counts: any change outside metadata and status.
uint64_t spec_fingerprint(const YAML::Node& doc) {
  std::string text;
  for (const auto& entry : doc) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
    if (key == "metadata" || key == "status") continue;
    text += key;
    text += YAML::Dump(entry.second);
    text += '\n';
  }
  return std::hash<std::string>{}(text);
}

ObjectMeta decode_metadata(Obj o, bool namespaced) {
  ObjectMeta m;
  m.name = o.req_str("name");
  m.namespace_ = o.str_or("namespace", namespaced ? "default" : "");
  if (!namespaced) m.namespace_.clear();
  m.labels = o.string_map("labels");
  m.annotations = o.string_map("annotations");
  const auto generation = o.integer("generation", 0, INT64_MAX);
  m.generation = generation.value_or(1);
  m.generation_given = generation.has_value();
  m.creation_timestamp = o.str_or("creationTimestamp", "");
  m.uid = o.str_or("uid", "");
  m.resource_version = o.str_or("resourceVersion", "");
  for (auto k : {"managedFields", "ownerReferences", "finalizers", "generateName", "deletionTimestamp",
                 "deletionGracePeriodSeconds", "selfLink"})
    o.ignore(k);
  o.finish();
  return m;
}

class Loader {
 public:
  void load_text(std::string_view text, const std::string& file) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
      // Without valid YAML there are no objects to tell apart: the whole file is left out.
      file_problem(file, file + ":" + std::to_string(e.mark.line + 1) + ": YAML parse error: " + e.msg);
      return;
    }
    for (size_t i = 0; i < docs.size(); ++i) load_document(docs[i], file, static_cast<int>(i));
  }

  void file_problem(const std::string& file, std::string message) {
    ConfigProblem problem;
    problem.message = std::move(message);
    problem.file = file;
    problem.whole_file = true;
    problems_.push_back(std::move(problem));
  }

  void load_node(const YAML::Node& object, const std::string& file) { load_document(object, file, 0); }

  LoadResult take() { return {std::move(set_), std::move(problems_)}; }

 private:
  // One object: decoded whole and added, or left out with one problem naming it as far as it is known.
  void load_document(const YAML::Node& doc, const std::string& file, int index) {
    ConfigProblem problem;
    problem.file = file;
    try {
      decode_document(doc, file, index, problem);
    } catch (const ConfigError& e) {
      problem.message = e.what();
      problems_.push_back(std::move(problem));
    }
  }

  void decode_document(const YAML::Node& doc, const std::string& file, int index, ConfigProblem& who) {
    if (is_null(doc)) return;  // empty documents ("---" at the end) are legal
    const int line = line_of(doc);
    const std::string where = location(file, line);
    if (!doc.IsMap())
      throw ConfigError(where + "document " + std::to_string(index) +
                        ": expected a Kubernetes object (a map), got " + describe(doc));
    const YAML::Node& cdoc = doc;
    const YAML::Node kind_node = cdoc["kind"];
    const YAML::Node api_node = cdoc["apiVersion"];
    if (is_null(kind_node) || !kind_node.IsScalar()) throw ConfigError(where + "object without kind");
    if (is_null(api_node) || !api_node.IsScalar())
      throw ConfigError(where + kind_node.Scalar() + ": object without apiVersion");
    const std::string kind = kind_node.Scalar();
    const std::string api = api_node.Scalar();

    if (kind == "List" && api == "v1") {  // what `kubectl get -o yaml` produces
      const YAML::Node items = cdoc["items"];
      if (items.IsDefined() && items.IsSequence())
        for (const auto& item : items) load_document(item, file, index);
      return;
    }
    const auto& kinds = known_kinds();
    const auto it = kinds.find(kind);
    const bool namespaced = it == kinds.end() || it->second.namespaced;
    Context ctx{file, kind, ""};
    // A first lenient look at the name so that metadata errors can already name the object, and so that
    // a problem can say which object it left out.
    const YAML::Node md = cdoc["metadata"];
    who.kind = kind;
    if (md.IsDefined() && md.IsMap()) {
      const YAML::Node n = md["name"], ns = md["namespace"];
      who.name = n.IsDefined() && n.IsScalar() ? n.Scalar() : "";
      if (namespaced) who.namespace_ = ns.IsDefined() && ns.IsScalar() ? ns.Scalar() : "default";
      ctx.object = namespaced ? who.namespace_ + "/" + who.name : who.name;
    }
    if (it == kinds.end())
      throw ConfigError(where + "unknown kind \"" + kind + "\" (apiVersion " + api + ")");
    const KindInfo& info = it->second;
    if (std::find(info.api_versions.begin(), info.api_versions.end(), api) == info.api_versions.end()) {
      std::string supported;
      for (auto v : info.api_versions) supported += (supported.empty() ? "" : ", ") + std::string(v);
      throw ConfigError(where + kind + ": unsupported apiVersion \"" + api + "\" (supported: " + supported +
                        ")");
    }
    if (!info.decode) {
      ++set_.ignored_objects;
      return;
    }

    Obj top(ctx, doc, "");
    top.ignore("apiVersion");
    top.ignore("kind");
    top.ignore("status");  // written by controllers, meaningless as input
    top.require("metadata");
    ObjectMeta meta = decode_metadata(*top.obj("metadata"), info.namespaced);
    meta.spec_fingerprint = spec_fingerprint(cdoc);
    const SourceLocation src{file, line, index};
    const std::string id = kind + " " + (info.namespaced ? meta.namespace_ + "/" : "") + meta.name;
    // Registered before the body is decoded: a second definition is a duplicate even when the first
    // is invalid, so that neither silently wins.
    check_duplicate(id, src);
    info.decode(top, std::move(meta), src, set_);
  }

  void check_duplicate(const std::string& id, const SourceLocation& src) {
    const auto [it, inserted] = seen_.emplace(id, src);
    if (!inserted)
      throw ConfigError(src.file + ":" + std::to_string(src.line) + ": " + id +
                        ": duplicate object, first defined at " + it->second.file + ":" +
                        std::to_string(it->second.line));
  }

  ObjectSet set_;
  std::vector<ConfigProblem> problems_;
  std::unordered_map<std::string, SourceLocation> seen_;
};

bool read_file(const std::filesystem::path& p, std::string& text) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

}  // namespace

bool parse_duration(std::string_view text, int64_t& milliseconds) {
  // Gateway API Duration: ^([0-9]{1,5}(h|m|s|ms)){1,4}$
  int64_t total = 0;
  int parts = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits = 0;
    int64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 5 || i >= text.size()) return false;
    int64_t unit = 0;
    if (text.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (text[i] == 'h') {
      unit = 3600000;
      ++i;
    } else if (text[i] == 'm') {
      unit = 60000;
      ++i;
    } else if (text[i] == 's') {
      unit = 1000;
      ++i;
    } else {
      return false;
    }
    total += value * unit;
    if (++parts > 4) return false;
  }
  if (parts == 0) return false;
  milliseconds = total;
  return true;
}

bool parse_byte_quantity(std::string_view text, uint64_t& bytes) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (value > (uint64_t{1} << 62) / 10) return false;
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return false;
  static constexpr std::pair<std::string_view, uint64_t> kSuffixes[] = {
      {"", 1},         {"k", 1000},          {"M", 1000000},   {"G", 1000000000}, {"T", 1000000000000},
      {"Ki", 1 << 10}, {"Mi", 1 << 20},      {"Gi", 1u << 30}, {"Ti", uint64_t{1} << 40},
  };
  const std::string_view suffix = text.substr(i);
  for (const auto& [name, multiplier] : kSuffixes) {
    if (suffix != name) continue;
    if (value > (uint64_t{1} << 62) / multiplier) return false;
    bytes = value * multiplier;
    return true;
  }
  return false;
}

LoadResult load_string_partial(std::string_view yaml, std::string_view source_name) {
  Loader loader;
  loader.load_text(yaml, std::string(source_name));
  return loader.take();
}

LoadResult load_node_partial(const YAML::Node& object, std::string_view source_name) {
  Loader loader;
  loader.load_node(object, std::string(source_name));
  return loader.take();
}

LoadResult load_path_partial(const std::filesystem::path& path) {
  std::error_code ec;
  Loader loader;
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string text;
      if (!read_file(f, text)) {
        loader.file_problem(f.string(), f.string() + ": cannot open file");
        continue;
      }
      loader.load_text(text, f.string());
    }
    return loader.take();
  }
  if (!std::filesystem::exists(path, ec)) throw ConfigError(path.string() + ": no such file or directory");
  std::string text;
  if (read_file(path, text))
    loader.load_text(text, path.string());
  else
    loader.file_problem(path.string(), path.string() + ": cannot open file");
  return loader.take();
}

namespace {

ObjectSet all_or_nothing(LoadResult result) {
  if (!result.problems.empty()) throw ConfigError(result.problems.front().message);
  return std::move(result.objects);
}

}  // namespace

ObjectSet load_string(std::string_view yaml, std::string_view source_name) {
  return all_or_nothing(load_string_partial(yaml, source_name));
}

ObjectSet load_path(const std::filesystem::path& path) {
  return all_or_nothing(load_path_partial(path));
}

std::vector<std::string> decoded_kinds() {
  std::vector<std::string> out;
  for (const auto& [name, info] : known_kinds())
    if (info.decode) out.emplace_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace mg::config
