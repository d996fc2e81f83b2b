// A second real OpenID Connect provider for Slipway's tests: zitadel/oidc's
// example OP (its in-memory storage and login form), run with Slipway as its
// one web client. Dex has no end-session endpoint; this provider has one
// (RP-initiated logout), so the tests can prove sign-out offers it and the
// provider accepts Slipway's request. Configured by the environment:
//
//	OP_PORT                 port on 127.0.0.1 (the issuer is http://127.0.0.1:PORT/)
//	OP_CLIENT_ID            Slipway's client id
//	OP_CLIENT_SECRET        Slipway's client secret
//	OP_REDIRECT_URI         Slipway's callback URL
//	OP_POST_LOGOUT_URI      where the provider may send the browser after its sign-out
//	OP_USERS_FILE           the people, as zitadel's example storage reads them (JSON)
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// slipwayClient is the example's web client with what Slipway needs of a
// real registration: its post-logout redirect URI, and the email claims in
// the ID token (Slipway reads the person from the ID token, not user-info).
type slipwayClient struct {
	op.Client
	postLogout string
}

func (c slipwayClient) PostLogoutRedirectURIs() []string { return []string{c.postLogout} }
func (c slipwayClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// withSlipway hands out slipwayClient for Slipway's client id.
type withSlipway struct {
	*storage.Storage
	clientID   string
	postLogout string
}

func (s withSlipway) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	client, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil || id != s.clientID {
		return client, err
	}
	return slipwayClient{Client: client, postLogout: s.postLogout}, nil
}

func need(name string) string {
	value := os.Getenv(name)
	if value == "" {
		slog.Error("missing setting", "variable", name)
		os.Exit(2)
	}
	return value
}

func main() {
	port := need("OP_PORT")
	clientID := need("OP_CLIENT_ID")
	issuer := "http://127.0.0.1:" + port + "/"
	storage.RegisterClients(storage.WebClient(clientID, need("OP_CLIENT_SECRET"), need("OP_REDIRECT_URI")))
	users, err := storage.StoreFromFile(need("OP_USERS_FILE"))
	if err != nil {
		slog.Error("reading the users", "error", err)
		os.Exit(2)
	}
	store := withSlipway{Storage: storage.NewStorage(users), clientID: clientID, postLogout: need("OP_POST_LOGOUT_URI")}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	router := exampleop.SetupServer(issuer, store, logger, false)
	server := &http.Server{Addr: "127.0.0.1:" + port, Handler: router}
	logger.Info("serving", "issuer", issuer)
	if err := server.ListenAndServe(); err != http.ErrServerClosed {
		logger.Error("server stopped", "error", err)
		os.Exit(1)
	}
}
