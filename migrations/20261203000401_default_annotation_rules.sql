-- A default Ingress annotation allow-list of ingress-nginx settings that touch
-- only the service's own requests (body size, timeouts, HTTPS redirects), so
-- specs such as examples/django.yaml keep working on a fresh install.
-- Administrators remove or extend these under Administration → Tenancy.
insert into annotation_rules (key, is_prefix, value_pattern, created_by) values
    ('nginx.ingress.kubernetes.io/proxy-body-size', false, '[0-9]{1,6}[kKmMgG]?', 'default'),
    ('nginx.ingress.kubernetes.io/proxy-read-timeout', false, '[0-9]{1,5}', 'default'),
    ('nginx.ingress.kubernetes.io/proxy-send-timeout', false, '[0-9]{1,5}', 'default'),
    ('nginx.ingress.kubernetes.io/proxy-connect-timeout', false, '[0-9]{1,5}', 'default'),
    ('nginx.ingress.kubernetes.io/ssl-redirect', false, 'true|false', 'default'),
    ('nginx.ingress.kubernetes.io/force-ssl-redirect', false, 'true|false', 'default')
on conflict do nothing;
