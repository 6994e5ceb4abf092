package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aibud/aibud/ai/gemini"
	"github.com/aibud/aibud/ai/rules"
	"github.com/aibud/aibud/tenants"
)

// newClassifier is the offline rules, or Gemini with the rules as its
// fallback when a key is configured.
func newClassifier(ctx context.Context, cfg Config, logger *slog.Logger) (tenants.Classifier, error) {
	offline := rules.New()
	if cfg.GeminiKey == "" {
		logger.Info("replies are classified by the offline rules (set GEMINI_API_KEY to use Gemini)")
		return offline, nil
	}
	c, err := gemini.New(ctx, gemini.Config{APIKey: cfg.GeminiKey, Model: cfg.GeminiModel, Fallback: offline, Logger: logger.With("component", "gemini")})
	if err != nil {
		return nil, fmt.Errorf("GEMINI_API_KEY: %w", err)
	}
	logger.Info("replies are classified by Gemini, with the offline rules as fallback", "model", cfg.GeminiModel)
	return c, nil
}
